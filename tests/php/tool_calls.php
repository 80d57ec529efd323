<?php
// Known work for the PHP tools: leaf() is called 10 times (from mid(),
// called 5 times), Greeter::hi 5 times; 2 exceptions are thrown and
// caught. With a file name argument GO it creates GO.PID.ready, waits for
// GO (created once ustat traces), creates GO.PID.done after the work and
// lingers until its stdin closes.
class Greeter
{
    public function hi($n)
    {
        return $n + 1;
    }
}

function leaf($x)
{
    return $x * 2;
}

function mid($x)
{
    return leaf($x) + leaf($x + 1);
}

$go = $argv[1] ?? null;
if ($go !== null) {
    touch("$go." . getmypid() . ".ready");
}
while ($go !== null && !file_exists($go)) {
    usleep(50000);
}
$greeter = new Greeter();
for ($i = 0; $i < 5; $i++) {
    mid($i);
    $greeter->hi($i);
}
for ($i = 0; $i < 2; $i++) {
    try {
        throw new RuntimeException("known");
    } catch (RuntimeException $e) {
    }
}
echo "done\n";
if ($go !== null) {
    touch("$go." . getmypid() . ".done");
    stream_get_contents(STDIN);
}
