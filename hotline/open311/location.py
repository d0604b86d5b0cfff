"""The region (市县) of an Open311 request, from the place it names: a region's name in the address,
else the nearest county seat to lat/long (within SEAT_RADIUS_KM), else OPEN311_DEFAULT_REGION when
it is set, else the region of the service item's department. The agent who dispatches the ticket
can correct it.
"""

import math
import re

from flask import current_app
from sqlalchemy import select

from core.db import db
from core.models import Region, ServiceItem

# Approximate WGS84 positions of the seats of Hainan's cities and counties (the government seat,
# from public maps): enough to tell which of the 19 a point on the island is nearest to.
SEATS: dict[str, tuple[float, float]] = {
    "460100": (20.044, 110.199),  # 海口
    "460200": (18.253, 109.512),  # 三亚
    "460300": (16.834, 112.338),  # 三沙 (永兴岛)
    "460400": (19.521, 109.581),  # 儋州 (那大)
    "469001": (18.775, 109.517),  # 五指山
    "469002": (19.246, 110.474),  # 琼海
    "469005": (19.543, 110.798),  # 文昌
    "469006": (18.795, 110.389),  # 万宁
    "469007": (19.096, 108.654),  # 东方
    "469021": (19.685, 110.359),  # 定安
    "469022": (19.363, 110.103),  # 屯昌
    "469023": (19.738, 110.007),  # 澄迈
    "469024": (19.908, 109.688),  # 临高
    "469025": (19.225, 109.451),  # 白沙
    "469026": (19.260, 109.056),  # 昌江
    "469027": (18.748, 109.173),  # 乐东
    "469028": (18.505, 110.037),  # 陵水
    "469029": (18.637, 109.702),  # 保亭
    "469030": (19.036, 109.840),  # 琼中
}
SEAT_RADIUS_KM = 60.0
EARTH_RADIUS_KM = 6371.0
_AUTONOMOUS = re.compile(r"^(.+?)(?:黎族苗族|黎族)自治县$")


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def region_by_point(lat: float, long: float) -> str | None:
    """The region whose seat is nearest, if one is within SEAT_RADIUS_KM."""
    code, seat = min(SEATS.items(), key=lambda pair: distance_km((lat, long), pair[1]))
    return code if distance_km((lat, long), seat) <= SEAT_RADIUS_KM else None


def _names(region: Region) -> list[str]:
    """Full names (三亚市, 陵水黎族自治县) and the usual short form of autonomous counties (陵水县).
    Bare short names (白沙, 东方) are not matched: they are also street and place names."""
    names = [region.name]
    match = _AUTONOMOUS.match(region.name)
    if match:
        names.append(f"{match.group(1)}县")
    return names


def region_by_address(address: str) -> str | None:
    """The region named earliest in the address, by its Chinese or English name."""
    if not address:
        return None
    best: tuple[int, str] | None = None
    lowered = address.lower()
    for region in db.session.scalars(select(Region)):
        positions = [address.find(name) for name in _names(region)]
        if region.name_en:
            english = re.search(rf"\b{re.escape(region.name_en.lower())}\b", lowered)
            positions.append(english.start() if english else -1)
        found = [p for p in positions if p >= 0]
        if found and (best is None or min(found) < best[0]):
            best = (min(found), region.code)
    return best[1] if best else None


def region_for(address: str, lat: float | None, long: float | None, item: ServiceItem) -> str:
    """The region code of a request (see the module's docstring for the order)."""
    code = region_by_address(address)
    if code is None and lat is not None and long is not None:
        code = region_by_point(lat, long)
    return code or str(current_app.config["OPEN311_DEFAULT_REGION"] or item.department.region_code)
