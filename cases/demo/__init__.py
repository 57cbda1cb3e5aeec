"""The `claimcheck demo` case, generated rather than downloaded.

`scenes.build_demo_assets` renders every file (reference imagery, claim photos, denial video and
stills, a recycled older photo, a witness statement) from two procedural 3D market scenes:
`markets` lays the streets out, `textures` paints them, `scene3d` renders them with a pinhole
camera, `effects` adds strike damage and re-publication, `exifwrite` stamps camera metadata and
`facts` holds the (illustrative) story.
"""
