"""Pure Chinese text intelligence (文本分析): no I/O beyond reading packaged data at start-up.

``normalize`` cleans text, ``pii`` masks personal data, ``tokenize`` wraps jieba with a
domain dictionary, ``sentiment`` scores sentiment, ``polarity`` applies cut-offs per
channel, ``category`` assigns issue categories (问题分类), ``priority`` explains a
P1/P2/P3 priority (优先级), and ``analyze`` runs them in order. Usable alone:
``vocwatch classify --text "快递三天没到，客服也不理人"``.
"""
