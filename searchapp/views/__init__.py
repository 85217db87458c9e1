"""Pages. Each one is for its owner only: another user's object is a 404.

start      the start page: Upload -> Search -> Deploy, and where the user stands
datasets   the dataset list, upload page, detail, thumbnails and deletion
searches   the search list, the new-search form, detail, mistakes, cancel, delete, downloads
compare    finished searches side by side
derive     datasets derived from CIFAR-10 / Tiny-ImageNet
suite      the paper's suite of derived datasets
baselines  MobileNetV2 / EfficientNet-B0 beside a search
report     the cost-and-accuracy report (page, CSV, JSON)
tokens     personal API tokens
common     the owner checks and file responses they share
"""
