//! What the lexer produces: tokens, their kinds and attach-point fields.

use crate::ast::Span;

/// A token and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Its bytes in the source.
    pub span: Span,
}

/// One `:`-separated field of an attach point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachField {
    /// The text, quotes removed.
    pub text: String,
    /// The source bytes, quotes included.
    pub span: Span,
}

/// The token kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    /// An attach point, e.g. `usdt:/bin/x:prov:name`.
    AttachPoint {
        /// The text with quotes removed.
        raw: String,
        /// The `:`-separated fields (a `:` inside quotes does not separate).
        fields: Vec<AttachField>,
    },
    /// An identifier or keyword (`pid`, `printf`, `if`, `uint8`).
    Ident(String),
    /// An integer literal.
    Int(u64),
    /// A string literal, escapes decoded.
    Str(String),
    /// `$name`.
    Var(String),
    /// `$1`, `$2`, ...
    Positional(usize),
    /// `$#`.
    PositionalCount,
    /// `@name`, or `@` alone (empty name).
    Map(String),
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `,`
    Comma,
    /// `;`
    Semi,
    /// `:`
    Colon,
    /// `?`
    Question,
    /// `.`
    Dot,
    /// `->`
    Arrow,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `/`
    Slash,
    /// `%`
    Percent,
    /// `&`
    Amp,
    /// `|`
    Pipe,
    /// `^`
    Caret,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
    /// `!`
    Bang,
    /// `~`
    Tilde,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    EqEq,
    /// `!=`
    Ne,
    /// `&&`
    AndAnd,
    /// `||`
    OrOr,
    /// `=`
    Assign,
    /// `+=`
    PlusEq,
    /// `-=`
    MinusEq,
    /// `*=`
    StarEq,
    /// `/=`
    SlashEq,
    /// `%=`
    PercentEq,
    /// `&=`
    AmpEq,
    /// `|=`
    PipeEq,
    /// `^=`
    CaretEq,
    /// `<<=`
    ShlEq,
    /// `>>=`
    ShrEq,
    /// `++`
    PlusPlus,
    /// `--`
    MinusMinus,
    /// The end of the source.
    Eof,
}

impl TokenKind {
    /// How the token is named in "expected X, found Y" messages.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::AttachPoint { raw, .. } => format!("attach point `{raw}`"),
            TokenKind::Ident(s) => format!("`{s}`"),
            TokenKind::Int(n) => format!("integer `{n}`"),
            TokenKind::Str(_) => "string literal".to_string(),
            TokenKind::Var(s) => format!("`${s}`"),
            TokenKind::Positional(n) => format!("`${n}`"),
            TokenKind::PositionalCount => "`$#`".to_string(),
            TokenKind::Map(s) => format!("`@{s}`"),
            TokenKind::Eof => "end of input".to_string(),
            other => format!("`{}`", other.punct_text()),
        }
    }

    /// The source text of a punctuation token ("" for the others).
    pub fn punct_text(&self) -> &'static str {
        use TokenKind::*;
        match self {
            LBrace => "{",
            RBrace => "}",
            LParen => "(",
            RParen => ")",
            LBracket => "[",
            RBracket => "]",
            Comma => ",",
            Semi => ";",
            Colon => ":",
            Question => "?",
            Dot => ".",
            Arrow => "->",
            Plus => "+",
            Minus => "-",
            Star => "*",
            Slash => "/",
            Percent => "%",
            Amp => "&",
            Pipe => "|",
            Caret => "^",
            Shl => "<<",
            Shr => ">>",
            Bang => "!",
            Tilde => "~",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            EqEq => "==",
            Ne => "!=",
            AndAnd => "&&",
            OrOr => "||",
            Assign => "=",
            PlusEq => "+=",
            MinusEq => "-=",
            StarEq => "*=",
            SlashEq => "/=",
            PercentEq => "%=",
            AmpEq => "&=",
            PipeEq => "|=",
            CaretEq => "^=",
            ShlEq => "<<=",
            ShrEq => ">>=",
            PlusPlus => "++",
            MinusMinus => "--",
            _ => "",
        }
    }
}
