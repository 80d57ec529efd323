# Known work for the Ruby tools: leaf() is called 10 times (from mid(),
# called 5 times), Greeter#hi 5 times; 300 Widget objects are created;
# 4 exceptions are raised and rescued; GC.start runs 3 times. It prints
# GC.count at the end (every collection of the process, start-up ones
# included). With a file name argument GO it creates GO.PID.ready, waits for
# GO (created once ustat traces), creates GO.PID.done after the work and
# lingers until its stdin closes.
class Greeter
  def hi(n)
    n + 1
  end
end

class Widget
end

def leaf(x)
  x * 2
end

def mid(x)
  leaf(x) + leaf(x + 1)
end

go = ARGV[0]
File.write("#{go}.#{Process.pid}.ready", "") unless go.nil?
sleep 0.05 until go.nil? || File.exist?(go)
greeter = Greeter.new
5.times do |i|
  mid(i)
  greeter.hi(i)
end
kept = Array.new(300) { Widget.new }
4.times do
  raise ArgumentError, "known"
rescue ArgumentError
  nil
end
3.times { GC.start }
puts "gc #{GC.count} widgets #{kept.size}"
unless go.nil?
  File.write("#{go}.#{Process.pid}.done", "")
  $stdin.read
end
