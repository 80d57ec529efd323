// Known work for ucalls -l java: leaf() is called 14 times (6 directly, 8
// from mid()), mid() 4 times, main() once.
public class ToolCalls {
    static int leaf(int x) {
        return x + 1;
    }

    static int mid(int x) {
        return leaf(x) + leaf(x);
    }

    public static void main(String[] args) {
        int sum = 0;
        for (int i = 0; i < 6; i++) {
            sum += leaf(i);
        }
        for (int i = 0; i < 4; i++) {
            sum += mid(i);
        }
        System.out.println(sum);
    }
}
