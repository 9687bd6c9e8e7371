"""The default pipeline stages, from the source documents (企业服务CRM: six intent stages)."""

from __future__ import annotations

# order, Chinese name, English name, default probability, closes as won
DEFAULT_STAGES = [
    (10, "初步沟通有意向", "Initial contact, interested", 10, False),
    (20, "深入沟通需求清晰", "Needs understood", 25, False),
    (30, "全面了解产品", "Knows the product well", 40, False),
    (40, "会客面谈", "Met in person", 60, False),
    (50, "无疑义准备签约", "No objections, ready to sign", 80, False),
    (60, "成功签单", "Deal signed", 100, True),
]


def seed_stages(model=None) -> int:
    """Create the default stages when there are none (a migration, or a flushed test database)."""
    if model is None:
        from .models import Stage as model
    if model.objects.exists():
        return 0
    model.objects.bulk_create(
        [
            model(order=o, name_zh=zh, name_en=en, probability=p, is_won=won)
            for o, zh, en, p, won in DEFAULT_STAGES
        ]
    )
    return len(DEFAULT_STAGES)
