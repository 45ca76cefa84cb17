"""Programs the build runs in a second Python process, `python -m
site_builder.accel.processes.<name>`. Each imports only what it needs, so it is ready
sooner than the build that started it:

- `link`: hard-links unchanged pages from the live site into the new one (build_loop's
  `Linker`);
- `segment`: cuts Chinese into words with jieba-rs (segmenter's `_Helper`);
- `romanize`: pinyin of Chinese tags and headings (romanizer.py).

`segment` and `romanize` answer requests, one JSON line each way (line_helper.py).
"""
