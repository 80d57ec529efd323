//! The syntax tree of a bpftrace script. Every node carries the [`Span`] of
//! the source text it came from, so that later stages can point at it.

mod visit;

pub use visit::{children, children_mut, number_exprs, unused_map_decls, visit_exprs};

/// A byte range `[start, end)` in the script source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset one past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A whole script: its probe blocks in source order.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// The probe blocks.
    pub probes: Vec<Probe>,
    /// The `config = { ... }` block's settings (all `None` without one).
    pub config: Config,
    /// `let @m = hash(N);` declarations at top level, in source order.
    pub map_decls: Vec<MapDecl>,
    /// The `macro name(params) { ... }` definitions. Their uses are already
    /// expanded in `probes` when the parser returns; they stay here for
    /// reference (names, spans).
    pub macros: Vec<Macro>,
}

/// `let @name = kind(max_entries);` at top level: the BPF map type and size
/// of one map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapDecl {
    /// The map's name without `@`.
    pub name: String,
    /// Which BPF map type.
    pub kind: DeclaredMapKind,
    /// Most entries the map holds.
    pub max_entries: u32,
    /// The whole declaration.
    pub span: Span,
}

/// The map kinds a declaration may name (bpftrace's spelling first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclaredMapKind {
    /// `hash`: BPF_MAP_TYPE_HASH.
    Hash,
    /// `lruhash`: BPF_MAP_TYPE_LRU_HASH (evicts about the least recently used).
    LruHash,
    /// `percpuhash`: BPF_MAP_TYPE_PERCPU_HASH (one value per CPU).
    PercpuHash,
    /// `percpulruhash`: BPF_MAP_TYPE_LRU_PERCPU_HASH.
    PercpuLruHash,
}

impl DeclaredMapKind {
    /// Every kind with its name in scripts.
    pub const ALL: [(&'static str, DeclaredMapKind); 4] = [
        ("hash", DeclaredMapKind::Hash),
        ("lruhash", DeclaredMapKind::LruHash),
        ("percpuhash", DeclaredMapKind::PercpuHash),
        ("percpulruhash", DeclaredMapKind::PercpuLruHash),
    ];

    /// True for the kinds with one value per CPU.
    pub fn per_cpu(self) -> bool {
        matches!(
            self,
            DeclaredMapKind::PercpuHash | DeclaredMapKind::PercpuLruHash
        )
    }

    /// True for the kinds that evict old entries instead of refusing new ones.
    pub fn lru(self) -> bool {
        matches!(
            self,
            DeclaredMapKind::LruHash | DeclaredMapKind::PercpuLruHash
        )
    }
}

/// `macro name(params) { body }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Macro {
    /// The name.
    pub name: String,
    /// The parameters in order.
    pub params: Vec<MacroParam>,
    /// The body's statements (without the value, when there is one).
    pub body: Vec<Stmt>,
    /// The body's last expression when it is not followed by `;`: the
    /// macro's value.
    pub value: Option<Expr>,
    /// The name in the definition.
    pub name_span: Span,
    /// The whole definition.
    pub span: Span,
}

/// One parameter of a macro: how its argument is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroParam {
    /// The name without sigil.
    pub name: String,
    /// Scratch variable, map or expression.
    pub kind: MacroParamKind,
    /// Where it is written.
    pub span: Span,
}

/// What a macro parameter accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MacroParamKind {
    /// `$a`: a scratch variable of the caller, which the body may change.
    Variable,
    /// `@a`: a map of the caller, which the body may change.
    Map,
    /// `a`: any expression, inserted wherever the body names `a`.
    Expr,
}

/// The settings of a `config = { key = value; ... }` block; `None` where
/// the block does not set the key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// `max_strlen`: bytes read by `str()` (bpftrace's BPFTRACE_MAX_STRLEN).
    pub max_strlen: Option<usize>,
    /// `max_map_keys`: entries of each map.
    pub max_map_keys: Option<u32>,
    /// `missing_probes`: what an attach point matching nothing does.
    pub missing_probes: Option<MissingProbes>,
    /// `stack_mode`: how `ustack` prints by default.
    pub stack_mode: Option<StackModeSetting>,
    /// `print_maps_on_exit`: print the maps at exit (default true).
    pub print_maps_on_exit: Option<bool>,
    /// `cpp_demangle`: demangle C++ names in stacks (default true).
    pub cpp_demangle: Option<bool>,
}

/// `missing_probes = error | warn | ignore`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingProbes {
    /// Stop with an error (the default).
    Error,
    /// Print a warning for each attach point that matches nothing and go on.
    Warn,
    /// Skip attach points that match nothing silently.
    Ignore,
}

impl Config {
    /// `self` with every key `over` sets replaced by `over`'s value (the
    /// environment over a script's block, as bpftrace's manual says).
    pub fn overridden_by(mut self, over: &Config) -> Config {
        self.max_strlen = over.max_strlen.or(self.max_strlen);
        self.max_map_keys = over.max_map_keys.or(self.max_map_keys);
        self.missing_probes = over.missing_probes.or(self.missing_probes);
        self.stack_mode = over.stack_mode.or(self.stack_mode);
        self.print_maps_on_exit = over.print_maps_on_exit.or(self.print_maps_on_exit);
        self.cpp_demangle = over.cpp_demangle.or(self.cpp_demangle);
        self
    }
}

/// `stack_mode = bpftrace | perf | raw | build_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackModeSetting {
    /// Symbol+offset per line.
    Bpftrace,
    /// Address, symbol and object, as perf prints.
    Perf,
    /// Addresses only.
    Raw,
    /// Build id and file offset per frame.
    BuildId,
}

/// One block: `attach, attach /predicate/ { body }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// The attach points sharing this block (at least one).
    pub attach_points: Vec<AttachPoint>,
    /// The optional `/predicate/` filter.
    pub predicate: Option<Expr>,
    /// The statements.
    pub body: Block,
    /// From the first attach point to the closing brace.
    pub span: Span,
}

/// One attach point, e.g. `usdt:/bin/x:prov:name`, as written and as parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachPoint {
    /// The text as written (quotes removed).
    pub raw: String,
    /// What it names.
    pub kind: AttachKind,
    /// Where it is.
    pub span: Span,
}

/// The kinds of attach points ustrace knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachKind {
    /// `BEGIN`: runs once before any other probe.
    Begin,
    /// `END`: runs once at exit.
    End,
    /// `usdt:PATH:[PROVIDER:]NAME`; fields may hold `*`/`?` wildcards.
    /// `path` is empty in `usdt::prov:name` / `usdt:prov:name` forms meant
    /// for `-p`.
    Usdt {
        /// Binary or library path, or a library name (`libc`).
        path: String,
        /// The provider, when given.
        provider: Option<String>,
        /// The probe name.
        name: String,
    },
    /// `uprobe:PATH:FUNC[+OFF]` / `uprobe:PATH:0xADDR` / `uretprobe:...` (also `u:`/`ur:`).
    Uprobe {
        /// Binary or library path or name.
        path: String,
        /// Function name (may hold wildcards) or address.
        target: UprobeTarget,
        /// True for `uretprobe`.
        is_return: bool,
    },
    /// `interval:s:N`, `interval:ms:N`, `interval:us:N`, `interval:hz:N`.
    Interval {
        /// The period in nanoseconds.
        period_ns: u64,
    },
    /// A bare name labelling a block (`handler { ... }`), only from
    /// [`crate::parse_labelled`]; the caller binds it to probes.
    Label {
        /// The name.
        name: String,
    },
    /// `profile:hz:N` (also `profile:s/ms/us:N`).
    Profile {
        /// The sampling frequency or period.
        rate: ProfileRate,
    },
}

/// What a uprobe attaches to inside its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UprobeTarget {
    /// A symbol (possibly with wildcards, possibly demangled C++) plus an offset.
    Symbol {
        /// The name.
        name: String,
        /// Bytes after the symbol's start (`func+16`).
        offset: u64,
    },
    /// An absolute virtual address in the file (`0x401136`).
    Address(u64),
}

/// The rate of a `profile` probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileRate {
    /// Samples per second on each CPU.
    Hz(u64),
    /// One sample every this many nanoseconds.
    PeriodNs(u64),
}

/// A `{ ... }` sequence of statements.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The statements in order.
    pub stmts: Vec<Stmt>,
    /// From `{` to `}`.
    pub span: Span,
}

/// A statement with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    /// What it is.
    pub kind: StmtKind,
    /// Where it is.
    pub span: Span,
}

/// The statement forms.
#[derive(Debug, Clone, PartialEq)]
pub enum StmtKind {
    /// An expression evaluated for its effect (`printf(...)`, `@x++`, `delete(@m[1])`).
    Expr(Expr),
    /// `target = value`, or a compound `target op= value` (`op` is `Some`).
    /// `target` is a [`ExprKind::Variable`] or [`ExprKind::Map`].
    Assign {
        /// The variable or map element assigned.
        target: Expr,
        /// `Some(Add)` for `+=`, etc.
        op: Option<BinaryOp>,
        /// The right-hand side.
        value: Expr,
    },
    /// `if (cond) { } else if (c2) { } else { }`; an `else if` is an else
    /// block holding a single `If` statement.
    If {
        /// The condition.
        cond: Expr,
        /// Taken when true.
        then_block: Block,
        /// Taken when false.
        else_block: Option<Block>,
    },
    /// `while (cond) { }`.
    While {
        /// The condition.
        cond: Expr,
        /// The loop body.
        body: Block,
    },
    /// `for ($x : @map) { }` or `for ($i : start..end) { }`.
    For {
        /// The loop variable (an [`ExprKind::Variable`]), scoped to the body.
        var: Expr,
        /// What it iterates over (boxed: statements stay small, and the
        /// parser's recursion with them).
        iter: Box<ForIter>,
        /// The loop body.
        body: Block,
    },
    /// A bare `{ ... }` inside a body: its statements run in order; a
    /// `let` inside is scoped to it.
    Block(Block),
    /// `unroll(N) { }`.
    Unroll {
        /// How many times (an integer literal, 1..=100 in bpftrace).
        count: u64,
        /// The body, repeated.
        body: Block,
    },
    /// `break;` inside a loop.
    Break,
    /// `continue;` inside a loop.
    Continue,
    /// `return;` leaves the probe.
    Return,
}

/// What a `for` loop iterates over.
#[derive(Debug, Clone, PartialEq)]
pub enum ForIter {
    /// `start..end`: integers from `start` up to, not including, `end`
    /// (both evaluated once, before the loop).
    Range {
        /// The first value.
        start: Expr,
        /// One past the last value.
        end: Expr,
    },
    /// `@map`: each element as a `(key, value)` tuple (the key a tuple of
    /// its fields when the map has several). An [`ExprKind::Map`] with no
    /// keys.
    Map(Expr),
}

/// An expression with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is.
    pub span: Span,
    /// Its number in the script, given by [`number_exprs`]; the compiler's
    /// passes key their per-expression facts (types) by it.
    pub id: ExprId,
}

impl Expr {
    /// A new, not yet numbered expression.
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr {
            kind,
            span,
            id: ExprId::UNNUMBERED,
        }
    }
}

/// The number of one expression node of a script ([`number_exprs`] gives
/// every node its own). A clone keeps the number of its original.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExprId(pub u32);

impl ExprId {
    /// The id of a node [`number_exprs`] has not numbered (yet).
    pub const UNNUMBERED: ExprId = ExprId(u32::MAX);
}

impl Default for ExprId {
    fn default() -> Self {
        ExprId::UNNUMBERED
    }
}

/// The expression forms.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// An integer literal (decimal, `0x` hex, `0` octal, with `_` separators
    /// and `K/M/G` suffixes are NOT bpftrace; plain C literals only).
    Integer(u64),
    /// A string literal with escapes (`\n \t \\ \" \xNN \NNN`) already decoded.
    String(String),
    /// A bare identifier that names a builtin: `pid`, `tid`, `comm`, `arg0`,
    /// `retval`, `nsecs`, `probe`, `func`, `ustack`, ... (the name is not
    /// checked by the parser).
    Builtin(String),
    /// `$1`, `$2`, ...: a positional parameter.
    Positional(usize),
    /// `$#`: the number of positional parameters.
    PositionalCount,
    /// `$name`: a scratch variable.
    Variable(String),
    /// `@name` or `@name[k1, k2]`; `@` alone has the empty name. A key list
    /// of more than one expression is a tuple key.
    Map {
        /// The name without `@`.
        name: String,
        /// The key expressions (empty for a scalar map).
        keys: Vec<Expr>,
    },
    /// `name(args)`: a function call (`printf`, `count`, `str`, `hist`, ...).
    /// Also used for calls written without parentheses? No: bare names are
    /// [`ExprKind::Builtin`].
    Call {
        /// The function name.
        name: String,
        /// The arguments.
        args: Vec<Expr>,
        /// Span of the name alone (for "unknown function" diagnostics).
        name_span: Span,
    },
    /// A prefix operator.
    Unary {
        /// Which.
        op: UnaryOp,
        /// The operand.
        operand: Box<Expr>,
    },
    /// A binary operator (arithmetic, bitwise, comparison, logical).
    Binary {
        /// Which.
        op: BinaryOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `cond ? a : b`.
    Ternary {
        /// The condition.
        cond: Box<Expr>,
        /// Value when true.
        then_expr: Box<Expr>,
        /// Value when false.
        else_expr: Box<Expr>,
    },
    /// `(type)expr`, e.g. `(uint8)x`, `(int32)arg0`.
    Cast {
        /// The target type.
        ty: IntType,
        /// The operand.
        operand: Box<Expr>,
    },
    /// `(struct req *)expr`, `(req_t *)expr`: a cast to a type of the
    /// traced program (named in its debug information).
    TypeCast {
        /// The type as written.
        ty: TypeName,
        /// The operand.
        operand: Box<Expr>,
    },
    /// `sizeof(struct req)`, `sizeof(int32)`, `sizeof(req_t)`: the size of
    /// a type (a bare name may also be a builtin such as `pid`).
    SizeofType(TypeName),
    /// `sizeof(expr)`: the size of an expression's type.
    SizeofExpr(Box<Expr>),
    /// `typeof(e)` as `sizeof`'s operand: the type of `e`, which is never
    /// evaluated (of a map with keys written without them, `typeof(@m)`,
    /// its key type, as in bpftrace). `typeof(uint8)`, `typeof(bool)`,
    /// `typeof(string)` hold an expression of that type.
    Typeof(Box<Expr>),
    /// `(typeof(e)) v` and `let $x: typeof(e) = v;`: `v` converted to the
    /// type of `e` (never evaluated); without `v` (`let $x: typeof(e);`)
    /// that type's zero.
    TypeofCast {
        /// The expression whose type is meant.
        of: Box<Expr>,
        /// The value converted.
        operand: Option<Box<Expr>>,
    },
    /// `offsetof(struct req, hdr.len)`: a member's byte offset.
    Offsetof {
        /// The struct or union.
        ty: TypeName,
        /// The member, and members of members.
        fields: Vec<String>,
    },
    /// `(a, b, c)`: a tuple; `(a,)` has one element, `()` none.
    Tuple(Vec<Expr>),
    /// `x++`, `++x`, `x--`, `--x` on a variable or map element.
    IncDec {
        /// The variable or map element.
        target: Box<Expr>,
        /// `++` (true) or `--` (false).
        increment: bool,
        /// Prefix form (value after the change) or postfix (value before).
        prefix: bool,
    },
    /// `expr.field`: a struct field, or a tuple element (`$t.0`: the field
    /// name is the index's digits).
    Field {
        /// The struct-valued expression.
        base: Box<Expr>,
        /// The field name.
        field: String,
    },
    /// `expr[index]` on a non-map expression (pointer/array indexing).
    Index {
        /// The pointer or array.
        base: Box<Expr>,
        /// The index.
        index: Box<Expr>,
    },
    /// `{ stmt; ...; value }`: a block used as a value (its statements run,
    /// then `value` is its value). Variables declared inside are renamed
    /// apart by the parser, so they do not leak.
    Block {
        /// The statements before the value (at least one).
        stmts: Vec<Stmt>,
        /// The last expression, not followed by `;`.
        value: Box<Expr>,
    },
}

/// A type of the traced program as a script writes it: `struct req *`,
/// `union u`, `enum color`, `req_t **`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TypeName {
    /// The name with its keyword, if any: `struct req`, `req_t`.
    pub name: String,
    /// The number of `*` after it.
    pub pointers: u8,
    /// Where the name is written.
    pub span: Span,
}

impl TypeName {
    /// The type as C writes it: `struct req*`, `req_t**`.
    pub fn display(&self) -> String {
        format!("{}{}", self.name, "*".repeat(self.pointers as usize))
    }
}

/// Prefix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `!x` (logical not: 1 if x == 0)
    Not,
    /// `~x`
    BitNot,
    /// `*x` (read user memory)
    Deref,
}

/// Binary operators, in C's meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `&`
    BitAnd,
    /// `|`
    BitOr,
    /// `^`
    BitXor,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `&&` (short-circuit)
    And,
    /// `||` (short-circuit)
    Or,
}

/// Integer types usable in casts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IntType {
    /// Width in bytes: 1, 2, 4 or 8.
    pub size: u8,
    /// True for `int8`..`int64`, false for `uint8`..`uint64`.
    pub signed: bool,
}

impl IntType {
    /// The type called `name`: `int8` ... `int64`, `uint8` ... `uint64`.
    pub fn from_name(name: &str) -> Option<IntType> {
        let (signed, bits) = match name.strip_prefix('u') {
            Some(rest) => (false, rest.strip_prefix("int")?),
            None => (true, name.strip_prefix("int")?),
        };
        let size = match bits {
            "8" => 1,
            "16" => 2,
            "32" => 4,
            "64" => 8,
            _ => return None,
        };
        Some(IntType { size, signed })
    }

    /// Its name: `int8` ... `uint64`.
    pub fn name(self) -> String {
        let sign = if self.signed { "" } else { "u" };
        format!("{sign}int{}", u32::from(self.size) * 8)
    }

    /// True when the integer `value` (negated when `negative`) has a
    /// value of this type.
    pub fn holds(self, value: u64, negative: bool) -> bool {
        let bits = u32::from(self.size) * 8;
        match (self.signed, negative) {
            (false, true) => value == 0,
            (false, false) => bits == 64 || value >> bits == 0,
            (true, false) => value < 1u64 << (bits - 1),
            (true, true) => value <= 1u64 << (bits - 1),
        }
    }
}
