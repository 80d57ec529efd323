# Known work for ucalls/uflow: leaf() returns 20 times (6 direct, 8 from
# mid() called directly, 6 from mid() called through map()), mid() 7 times.
def leaf(x):
    return x + 1


def mid(x):
    return leaf(x) + leaf(x)


for i in range(6):
    leaf(i)
for i in range(4):
    mid(i)
list(map(mid, range(3)))
