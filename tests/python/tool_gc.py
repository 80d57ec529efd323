# Known work for ugc: three explicit collections, of generations 0, 1 and
# 2, the last one freeing 100 reference cycles (200 objects).
import gc

gc.disable()
gc.collect(0)
gc.collect(1)
for _ in range(100):
    a, b = [], []
    a.append(b)
    b.append(a)
del a, b
gc.collect(2)
