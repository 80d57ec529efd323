//! Rust for the DWARF reader's tests: a struct passed by reference and by
//! value, `&str`, and an enum with data.
use std::io::BufRead;

pub struct Point {
    pub x: i32,
    pub y: i32,
}

pub struct Order<'a> {
    pub id: u64,
    pub customer: &'a str,
    pub at: Point,
}

pub enum Shape {
    Circle(u32),
    Square { side: u16 },
    Empty,
}

#[inline(never)]
#[no_mangle]
pub fn process_order(order: &Order, note: &str, shape: Shape) -> u64 {
    let extra = match shape {
        Shape::Circle(r) => r as u64,
        Shape::Square { side } => side as u64,
        Shape::Empty => 0,
    };
    order.id + order.customer.len() as u64 + note.len() as u64 + note.bytes().map(u64::from).sum::<u64>() + extra
        + (order.at.x + order.at.y) as u64
}

#[inline(never)]
#[no_mangle]
pub fn move_point(p: Point, dx: i32) -> Point {
    Point { x: p.x + dx, y: p.y }
}

/// With an argument N: N rounds at once; without: one round per line
/// read from stdin.
fn main() {
    let rounds: Option<usize> = std::env::args().nth(1).and_then(|a| a.parse().ok());
    let lines: Box<dyn Iterator<Item = ()>> = match rounds {
        Some(n) => Box::new(std::iter::repeat_n((), n)),
        None => Box::new(std::io::stdin().lock().lines().map_while(Result::ok).map(|_| ())),
    };
    for () in lines {
        let order = Order { id: 7, customer: "ada", at: Point { x: 1, y: 2 } };
        let n = process_order(std::hint::black_box(&order), "fast", Shape::Square { side: 5 });
        let p = move_point(Point { x: 3, y: 4 }, 2);
        println!("{n} {}", p.x);
    }
}
