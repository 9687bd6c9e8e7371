"""The dictionary types Kehu ships with and their seeded entries (zh-Hans, English)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from kehu.core.registry import register_dict_type

TYPES = {
    "customer_level": _("Customer level"),
    "region": _("Region"),
    "industry": _("Industry"),
    "customer_source": _("Customer source"),
    "credit_rating": _("Credit rating"),
    "service_type": _("Service type"),
    "return_reason": _("Return reason"),
    "lost_reason": _("Lost reason"),
    "unit": _("Unit of measure"),
    "payment_method": _("Payment method"),
    "activity_type": _("Activity type"),
    "opportunity_source": _("Opportunity source"),
}

DEFAULTS: dict[str, list[tuple[str, str, str]]] = {
    "customer_level": [
        ("vip", "战略客户", "Strategic"),
        ("key", "重点客户", "Key account"),
        ("major", "大客户", "Major"),
        ("normal", "普通客户", "Regular"),
        ("partner", "合作伙伴", "Partner"),
    ],
    "region": [
        ("north", "华北", "North China"),
        ("east", "华东", "East China"),
        ("south", "华南", "South China"),
        ("central", "华中", "Central China"),
        ("southwest", "西南", "Southwest"),
        ("northwest", "西北", "Northwest"),
        ("northeast", "东北", "Northeast"),
        ("overseas", "海外", "Overseas"),
    ],
    "industry": [
        ("manufacturing", "制造业", "Manufacturing"),
        ("it", "信息技术", "Information technology"),
        ("retail", "批发零售", "Wholesale and retail"),
        ("construction", "建筑工程", "Construction"),
        ("education", "教育", "Education"),
        ("healthcare", "医疗卫生", "Healthcare"),
        ("finance", "金融", "Finance"),
        ("government", "政府机构", "Government"),
        ("logistics", "交通物流", "Logistics"),
        ("other", "其他", "Other"),
    ],
    "customer_source": [
        ("phone", "电话营销", "Telemarketing"),
        ("web", "网站", "Website"),
        ("referral", "客户介绍", "Referral"),
        ("exhibition", "展会", "Exhibition"),
        ("ad", "广告", "Advertising"),
        ("partner", "合作伙伴", "Partner"),
        ("other", "其他", "Other"),
    ],
    "credit_rating": [
        ("1", "一星", "1 star"),
        ("2", "二星", "2 stars"),
        ("3", "三星", "3 stars"),
        ("4", "四星", "4 stars"),
        ("5", "五星", "5 stars"),
    ],
    "service_type": [
        ("consult", "咨询", "Enquiry"),
        ("advice", "建议", "Suggestion"),
        ("complaint", "投诉", "Complaint"),
        ("repair", "维修", "Repair"),
        ("install", "安装", "Installation"),
        ("training", "培训", "Training"),
    ],
    "return_reason": [
        ("quality", "质量问题", "Quality problem"),
        ("wrong_item", "发错货", "Wrong item shipped"),
        ("damaged", "运输损坏", "Damaged in transit"),
        ("surplus", "客户多订", "Ordered too many"),
        ("expired", "过期", "Expired"),
        ("other", "其他", "Other"),
    ],
    "lost_reason": [
        ("price", "价格因素", "Price"),
        ("competitor", "被竞争对手抢走", "Lost to a competitor"),
        ("service", "服务不满意", "Unhappy with service"),
        ("closed", "客户倒闭或转行", "Closed or changed business"),
        ("no_need", "无需求", "No longer needed"),
        ("other", "其他", "Other"),
    ],
    "unit": [
        ("pcs", "个", "piece"),
        ("set", "台", "unit"),
        ("box", "箱", "box"),
        ("pack", "包", "pack"),
        ("kg", "千克", "kg"),
        ("m", "米", "metre"),
        ("l", "升", "litre"),
    ],
    "payment_method": [
        ("transfer", "银行转账", "Bank transfer"),
        ("cash", "现金", "Cash"),
        ("alipay", "支付宝", "Alipay"),
        ("wechat", "微信支付", "WeChat Pay"),
        ("draft", "承兑汇票", "Bank acceptance draft"),
        ("cheque", "支票", "Cheque"),
    ],
    "activity_type": [
        ("visit", "拜访", "Visit"),
        ("call", "电话", "Call"),
        ("email", "邮件", "E-mail"),
        ("wechat", "微信", "WeChat"),
        ("other", "其他", "Other"),
    ],
    "opportunity_source": [
        ("inbound", "客户来电", "Inbound call"),
        ("web", "网站咨询", "Website enquiry"),
        ("exhibition", "展会", "Exhibition"),
        ("referral", "老客户介绍", "Referral"),
        ("campaign", "营销活动", "Campaign"),
        ("other", "其他", "Other"),
    ],
}


def register_default_types() -> None:
    for code, label in TYPES.items():
        register_dict_type(code, label)
