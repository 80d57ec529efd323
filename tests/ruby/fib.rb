# Issue 17's Ruby program: fib(15) makes 1973 calls of fib and prints 610.
def fib(n)
  n < 2 ? n : fib(n - 1) + fib(n - 2)
end
puts fib(15)
