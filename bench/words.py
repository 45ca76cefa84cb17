"""Vocabularies for the synthetic corpus: plausible English and Chinese prose about writing,
communities and courses, so Markdown, search indexing and Chinese segmentation work on text
shaped like the real thing (not lorem ipsum, which jieba and stemmers treat differently)."""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


EN_WORDS = _words(
    """
    article reader community course lesson member writer teacher student group weekly
    rhythm habit question answer topic outline draft edit publish share trust price
    offer launch plan review feedback example template checklist calendar newsletter
    practice exercise project result promise value problem solution story method step
    stage audience subscriber conversation welcome ritual convention moderator event
    call workshop cohort schedule deadline milestone progress chapter section summary
    note idea insight lesson framework model principle pattern mistake lesson skill
    focus attention energy time budget revenue income growth retention renewal churn
    onboarding invitation referral testimonial guarantee refund support question forum
    channel message reply thread post comment discussion session meeting recording
    video audio transcript slide worksheet handout reading list resource library tool
    build write read learn teach explain show guide help grow keep start finish choose
    decide measure test improve repeat simplify focus listen ask invite welcome thank
    clear simple small steady useful honest practical specific concrete patient warm
    careful quiet regular weekly daily monthly first second next last every each many
    few most better best often always never sometimes usually slowly quickly together
    """
)

EN_GLUE = ("the", "a", "and", "of", "to", "in", "for", "with", "your", "our", "that", "is")

ZH_WORDS = _words(
    """
    社群 文章 读者 课程 课时 会员 作者 老师 学员 小组 每周 节奏 习惯 问题 回答 主题
    大纲 草稿 编辑 发布 分享 信任 价格 方案 上线 计划 复盘 反馈 案例 模板 清单 日历
    练习 作业 项目 结果 承诺 价值 方法 步骤 阶段 受众 订阅 对话 欢迎 仪式 公约 活动
    直播 工作坊 时间表 截止 里程碑 进度 章节 总结 笔记 想法 洞察 框架 原则 模式 错误
    技能 专注 注意力 精力 预算 收入 增长 留存 续费 流失 入门 邀请 推荐 评价 保障 退款
    支持 论坛 频道 消息 回复 评论 讨论 会议 录音 视频 音频 文字稿 讲义 资料 工具 知识
    付费 免费 内容 私域 流量 转化 运营 定位 写作 阅读 学习 教学 解释 展示 引导 帮助
    成长 坚持 开始 完成 选择 决定 衡量 测试 改进 重复 简化 倾听 提问 感谢 清晰 简单
    稳定 有用 真诚 实用 具体 耐心 温暖 认真 安静 规律 第一 下一步 每一 许多 更好
    """
)

ZH_GLUE = ("的", "和", "是", "在", "把", "让", "给", "也", "就", "都", "要", "能")

EN_TITLE_WORDS = EN_WORDS[:120]
ZH_TITLE_WORDS = ZH_WORDS[:120]

TAGS_EN = _words(
    "community writing courses pricing launch retention onboarding newsletter habits "
    "growth teaching feedback"
)
TAGS_ZH = _words("社群 写作 课程 定价 上线 留存 入门 私域 习惯 增长 教学 反馈")
