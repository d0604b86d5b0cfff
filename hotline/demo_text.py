"""Words for demo tickets: what Hainan's citizens call 12345 about, by department and type."""

import random
from dataclasses import dataclass

from hotline.models import Channel, TicketType, Urgency

T = TicketType


@dataclass(frozen=True)
class Topic:
    department: str  # the department kind: the code suffix of core.demo.DEPARTMENT_TYPES
    type: TicketType
    text: str  # {place}, {amount}, {days}, {item} are filled in
    urgency: Urgency = Urgency.NORMAL
    enterprise: float = 0.05  # share that is enterprise-related (涉企)


TOPICS: list[Topic] = [
    Topic("ZWFW", T.CONSULTATION, "咨询{item}需要准备哪些材料，网上办理和窗口办理有什么区别。"),
    Topic("ZWFW", T.CONSULTATION, "咨询新开办企业能否一次性办完营业执照、刻章和税务登记。", enterprise=0.9),
    Topic("ZWFW", T.COMPLAINT, "在政务服务中心办理{item}，窗口工作人员态度生硬，来回跑了{days}趟还没办成。"),
    Topic("ZWFW", T.SUGGESTION, "建议政务服务中心周末开放部分窗口，方便上班族办事。"),
    Topic("ZWFW", T.PRAISE, "表扬政务服务中心窗口工作人员耐心细致，帮助老人当场办结{item}。"),
    Topic("SCJG", T.REPORT, "举报{place}一家餐馆后厨卫生条件差，有老鼠出没，要求查处。"),
    Topic("SCJG", T.COMPLAINT, "在{place}的商场购买的电动车存在质量问题，商家拒绝退换，金额{amount}元。"),
    Topic("SCJG", T.COMPLAINT, "{place}附近的超市销售过期食品，与店家交涉无果。"),
    Topic("SCJG", T.CONSULTATION, "咨询个体工商户变更经营范围需要哪些手续。", enterprise=0.8),
    Topic("SCJG", T.HELP, "公司营业执照年报逾期被列入经营异常名录，求助如何移出。", enterprise=1.0),
    Topic("RSJ", T.COMPLAINT, "{place}一家建筑公司拖欠{days}个月工资共计{amount}元，多次讨要未果。", enterprise=0.3),
    Topic("RSJ", T.CONSULTATION, "咨询社保卡丢失后补办的流程和办理时限。"),
    Topic("RSJ", T.CONSULTATION, "咨询失业保险金的申领条件和每月发放标准。"),
    Topic("RSJ", T.HELP, "单位未按规定缴纳社会保险，求助如何补缴。", enterprise=0.4),
    Topic("ZJJ", T.COMPLAINT, "{place}小区物业擅自提高物业费，业主多次反映没有回应。"),
    Topic("ZJJ", T.COMPLAINT, "{place}工地夜间施工噪音扰民，已持续{days}天，影响休息。"),
    Topic("ZJJ", T.CONSULTATION, "咨询住房公积金提取用于支付房租的条件和额度。"),
    Topic("ZJJ", T.HELP, "{place}小区电梯频繁故障，有老人被困，求助尽快维修。", Urgency.EMERGENCY),
    Topic("ZJJ", T.SUGGESTION, "建议在{place}老旧小区加装电梯并增设无障碍通道。"),
    Topic("GAJ", T.CONSULTATION, "咨询外地户籍人员在本地办理居住证需要哪些材料。"),
    Topic("GAJ", T.CONSULTATION, "咨询办理港澳通行证续签能否在网上预约。"),
    Topic("GAJ", T.REPORT, "举报{place}路口长期有车辆违停，占用消防通道。"),
    Topic("GAJ", T.HELP, "{place}有人在路边打架，有人受伤，请求尽快处置。", Urgency.EMERGENCY),
    Topic("ZRZY", T.CONSULTATION, "咨询二手房过户办理不动产登记的时限和费用。"),
    Topic("ZRZY", T.COMPLAINT, "不动产登记证书办理超过{days}个工作日仍未拿到证。"),
    Topic("ZRZY", T.REPORT, "举报{place}有人违规占用耕地建房。"),
    Topic("YBJ", T.CONSULTATION, "咨询异地就医备案后住院费用的报销比例。"),
    Topic("YBJ", T.HELP, "在外地住院忘记办理异地就医备案，求助如何补办报销。"),
    Topic("YBJ", T.COMPLAINT, "{place}一家药店医保卡刷卡限制购药，要求核查。"),
    Topic("JTJ", T.COMPLAINT, "在{place}乘坐出租车遭遇拒载和绕路，车费多收{amount}元。"),
    Topic("JTJ", T.SUGGESTION, "建议增开{place}到高铁站的公交线路，早晚高峰加密班次。"),
    Topic("JTJ", T.PRAISE, "表扬公交司机帮助乘客找回遗失的钱包，拾金不昧。"),
    Topic("JTJ", T.CONSULTATION, "咨询网约车驾驶员从业资格证的办理条件。", enterprise=0.3),
    Topic("SWJ", T.HELP, "{place}停水已经{days}天，事先没有任何通知，生活受到影响。", Urgency.UTILITIES),
    Topic("SWJ", T.HELP, "{place}路边水管爆裂，水流满路面，请求尽快抢修。", Urgency.UTILITIES),
    Topic("SWJ", T.COMPLAINT, "{place}自来水发黄有异味，要求检测水质。"),
    Topic("SWJ", T.CONSULTATION, "咨询新建商铺办理供水报装的流程和时限。", enterprise=0.9),
]

TYPE_WEIGHTS = {
    T.CONSULTATION: 35,
    T.HELP: 15,
    T.COMPLAINT: 30,
    T.REPORT: 8,
    T.SUGGESTION: 8,
    T.PRAISE: 4,
}
CHANNEL_WEIGHTS = {
    Channel.PHONE: 62,
    Channel.WEB: 10,
    Channel.APP: 12,
    Channel.SMS: 6,
    Channel.OPEN311: 5,
    Channel.LEADER_DAY: 5,
}
LEADERS = ["王副市长", "陈副县长", "林秘书长", "符副局长", "吴局长"]

# Approximate centres (latitude, longitude) of Hainan's 19 cities and counties.
REGION_CENTRES = {
    "460100": (20.04, 110.32),
    "460200": (18.25, 109.51),
    "460300": (16.83, 112.34),
    "460400": (19.52, 109.58),
    "469001": (18.78, 109.52),
    "469002": (19.26, 110.47),
    "469005": (19.54, 110.80),
    "469006": (18.80, 110.39),
    "469007": (19.10, 108.65),
    "469021": (19.68, 110.36),
    "469022": (19.35, 110.10),
    "469023": (19.74, 110.01),
    "469024": (19.91, 109.69),
    "469025": (19.22, 109.45),
    "469026": (19.30, 109.06),
    "469027": (18.75, 109.17),
    "469028": (18.51, 110.04),
    "469029": (18.64, 109.70),
    "469030": (19.03, 109.84),
}

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗符邢云冯韩钟"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰海燕春梅志红文斌"
ROADS = ["滨海大道", "龙华路", "海秀路", "解放西路", "国兴大道", "南沙路", "凤凰路", "迎宾路", "河东路", "人民大道"]
PLACES = ["小区", "农贸市场", "步行街", "商业广场", "花园小区", "工业园", "新村", "公交站"]
MOBILE_PREFIXES = [
    "130",
    "133",
    "135",
    "136",
    "138",
    "139",
    "150",
    "152",
    "158",
    "166",
    "176",
    "177",
    "180",
    "186",
    "189",
]
REPLIES = [
    "经核实，已安排工作人员于{days}日内现场处理，问题已解决，已电话告知来电人。",
    "已电话联系来电人，详细解释了相关政策和办理流程，来电人表示理解。",
    "经调查，反映情况属实，已责令相关单位限期整改，并将持续跟踪。",
    "已将来电人反映的问题转交属地社区跟进，并约定回访时间。",
    "经核查，反映情况与实际不符，已向来电人说明调查结果。",
    "感谢来电人的建议，已纳入下一步工作计划研究落实。",
]


def caller_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def address(rng: random.Random, region_name: str) -> tuple[str, str]:
    """A street address and the short place name used in the ticket's text."""
    road = rng.choice(ROADS)
    place = f"{road}{rng.choice(PLACES)}"
    return f"{region_name}{road}{rng.randrange(1, 400)}号", place


def reply_text(rng: random.Random) -> str:
    return rng.choice(REPLIES).format(days=rng.randrange(1, 5))
