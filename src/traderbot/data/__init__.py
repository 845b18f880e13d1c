"""Market data: the canonical bar frame, the Parquet store, importers, quality reports and resampling.

Modules: frame (validate_frame, canonicalize), store (ParquetBarStore), stores (open_stores, default_store),
importers (import_histdata, import_oanda, import_csv), ingest (import_file), loader (load_ohlcv_file),
quality (quality_report), resample (resample). See docs/data.md.
"""
