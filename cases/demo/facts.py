"""The story the demo case tells: two markets, a claimed strike, a denial, a witness.

Modelled on the kind of case investigators document (a market strike in Ma'arat al-Nu'man on
22 July 2019, denied the next day with footage of another market), but every organisation, text,
URL and person here is invented and marked illustrative. Coordinates are approximate and only put
the two markets a few hundred metres apart, as in the real town.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

# Syria kept UTC+3 in July 2019.
SYRIA_SUMMER = timezone(timedelta(hours=3), "UTC+03:00")


@dataclass(frozen=True)
class DemoSite:
    """A place reference imagery is collected for; radius is how far from the point still counts
    as the site when comparing GPS positions."""

    name: str
    latitude: float
    longitude: float
    radius_m: float
    description: str


@dataclass(frozen=True)
class DemoSource:
    """Where a statement was published (all URLs are on example.org)."""

    title: str
    url: str


@dataclass(frozen=True)
class DemoStatement:
    """A public claim or denial: who said it, when, what it asserts about which site."""

    publisher: str
    published: date
    site_name: str
    asserts: str
    text: str
    sources: tuple[DemoSource, ...]


@dataclass(frozen=True)
class DemoWitness:
    """A witness known to the case under a pseudonym; the statement file holds their words."""

    pseudonym: str
    language: str
    given: date


POPULAR_MARKET = DemoSite(
    name="popular market",
    latitude=35.6436,
    longitude=36.6757,
    radius_m=150.0,
    description="Popular (vegetable) market in the centre of Ma'arat al-Nu'man; approximate, "
    "illustrative coordinates.",
)

ALHAL_MARKET = DemoSite(
    name="al Hal market",
    latitude=35.6404,
    longitude=36.6733,
    radius_m=150.0,
    description="Al Hal (wholesale) market, about 400 m south-west of the popular market; "
    "approximate, illustrative coordinates.",
)

INCIDENT_TIME = datetime(2019, 7, 22, 9, 40, tzinfo=SYRIA_SUMMER)
DENIAL_FOOTAGE_TIME = datetime(2019, 7, 23, 8, 47, tzinfo=SYRIA_SUMMER)
# A denial still whose camera clock says it was taken two days before the strike (issue 5,
# capture_time): an intact market photographed before the attack proves nothing about after it.
DENIAL_EARLY_STILL_TIME = datetime(2019, 7, 20, 16, 30, tzinfo=SYRIA_SUMMER)
# When the photo later recycled in the denial was first taken and collected (an older case).
OLDER_ITEM_TIME = datetime(2017, 5, 9, 11, 12, tzinfo=SYRIA_SUMMER)

CLAIM = DemoStatement(
    publisher="Syrian Civil Defence (illustrative)",
    published=date(2019, 7, 22),
    site_name=POPULAR_MARKET.name,
    asserts="An airstrike hit the popular market in Ma'arat al-Nu'man at about 09:40 on "
    "22 July 2019, killing and wounding civilians and damaging shops.",
    text="Our teams responded to an airstrike on the popular market in Ma'arat al-Nu'man this "
    "morning. Shops on the market street were destroyed and fires broke out among the stalls. "
    "(Illustrative text for the claimcheck demo.)",
    sources=(
        DemoSource(
            "Statement and photographs, 22 July 2019",
            "https://example.org/civil-defence/2019/07/22/maarat-market",
        ),
    ),
)

DENIAL = DemoStatement(
    publisher="Ministry of Defence (illustrative)",
    published=date(2019, 7, 23),
    site_name=POPULAR_MARKET.name,
    asserts="The popular market in Ma'arat al-Nu'man is intact; footage filmed there on 23 July "
    "2019 shows no damage, so no strike took place.",
    text="Reports of a strike on the market in Ma'arat al-Nu'man are fabricated. Our footage, "
    "filmed at the market this morning, shows it untouched and trading normally. "
    "(Illustrative text for the claimcheck demo.)",
    sources=(
        DemoSource(
            "Briefing video, 23 July 2019",
            "https://example.org/ministry/briefings/2019-07-23/video",
        ),
        DemoSource(
            "Briefing photographs, 23 July 2019",
            "https://example.org/ministry/briefings/2019-07-23/photos",
        ),
    ),
)

WITNESS = DemoWitness(pseudonym="Witness A", language="ar", given=date(2019, 7, 24))

WITNESS_STATEMENT = """\
إفادة الشاهد (أ) — ٢٤ تموز ٢٠١٩
كنت في السوق الشعبي في معرة النعمان صباح يوم الاثنين ٢٢ تموز ٢٠١٩ أشتري الخضار.
قرابة الساعة التاسعة وأربعين دقيقة سمعت صوت طائرة ثم انفجارين متتاليين في شارع السوق.
احترقت بسطات الخضار واحترقت المحلات في الجهة المقابلة، وتصاعد دخان أسود كثيف فوق السوق.
ساعدت في نقل جريحين إلى سيارة الدفاع المدني. السوق الذي ظهر في فيديو الوزارة ليس السوق
الشعبي، بل سوق الهال، وأعرفه جيداً.

English translation:
Statement of Witness A, 24 July 2019.
I was at the popular market in Ma'arat al-Nu'man on the morning of Monday 22 July 2019, buying
vegetables. At about 09:40 I heard an aircraft and then two explosions, one after the other, in the
market street. The vegetable stalls caught fire and the shops on the opposite side burned; thick
black smoke rose over the market. I helped carry two wounded people to a Civil Defence vehicle. The
market shown in the ministry's video is not the popular market; it is the al Hal market, which I
know well.

(Invented statement for the claimcheck demo; the witness is fictional.)
"""
