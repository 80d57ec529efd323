// Known work for the runtime tools (uflow, ugc, uobjnew, uthreads, ustat
// -l java): step() is called 5 times, each calling leaf() twice;
// 300 Widget objects are allocated; System.gc() runs 3 times; two threads
// named tool-worker-1 and tool-worker-2 are started and joined. With a
// file name argument GO it creates GO.PID.ready, waits for GO (created once
// ustat traces), creates GO.PID.done after the work and lingers until its
// stdin closes.
public class ToolRuntime {
    static class Widget {
        long a, b;
    }

    static Widget[] kept = new Widget[300];

    static int leaf(int x) {
        return x + 1;
    }

    static int step(int x) {
        return leaf(x) + leaf(x + 1);
    }

    public static void main(String[] args) throws Exception {
        java.io.File go = args.length > 0 ? new java.io.File(args[0]) : null;
        if (go != null) {
            new java.io.File(args[0] + "." + ProcessHandle.current().pid() + ".ready").createNewFile();
        }
        while (go != null && !go.exists()) {
            Thread.sleep(50);
        }
        int sum = 0;
        for (int i = 0; i < 5; i++) {
            sum += step(i);
        }
        for (int i = 0; i < kept.length; i++) {
            kept[i] = new Widget();
        }
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        for (int i = 1; i <= 2; i++) {
            Thread t = new Thread(() -> {}, "tool-worker-" + i);
            t.start();
            t.join();
        }
        System.out.println(sum + kept.length);
        if (go != null) {
            new java.io.File(args[0] + "." + ProcessHandle.current().pid() + ".done").createNewFile();
            while (System.in.read() != -1) {
            }
        }
    }
}
