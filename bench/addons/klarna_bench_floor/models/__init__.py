from . import klarna_bench_floor_row
