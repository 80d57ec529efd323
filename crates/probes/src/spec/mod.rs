//! USDT argument specifications (`-4@-20(%rbp)`, `8@%rax`, `-4@$5`, ...) as typed values.

use thiserror::Error;

mod registers;

use registers::register_operand;
pub use registers::{lookup_register, Register, RegisterOperand};

/// Where an argument's value lives at the probe site.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ArgLocation {
    /// The value is in a register (or part of one).
    Register(RegisterOperand),
    /// The value is a constant (`$5`, `$-1`).
    Immediate(i64),
    /// The value is in user memory at `base + index * scale + offset`.
    /// `base` is never [`Register::Rip`]; rip-relative operands are [`ArgLocation::Static`].
    Memory {
        /// The base register.
        base: Register,
        /// The index register and its scale (1, 2, 4 or 8), if any.
        index: Option<(Register, u8)>,
        /// The constant displacement.
        offset: i64,
    },
    /// The value is in user memory at a fixed link-time virtual address of the
    /// file (a rip-relative operand such as `sym+8(%rip)`, resolved). At run
    /// time the address is `vaddr + load bias`, and the load bias is
    /// `probe runtime ip - location pc`.
    Static {
        /// The link-time virtual address.
        vaddr: u64,
    },
}

/// One parsed argument: `SIZE@LOCATION`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ArgSpec {
    /// Size of the value in bytes: 1, 2, 4 or 8.
    pub size: u8,
    /// True when SIZE was negative (the value is sign-extended to 64 bits).
    pub signed: bool,
    /// Where the value is.
    pub location: ArgLocation,
}

/// Why one argument spec could not be read. The probe stays usable; only
/// this argument is unavailable. Every message names the spec text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ArgSpecError {
    /// The spec is empty or does not have the shape `SIZE@LOCATION`.
    #[error("malformed argument spec `{spec}`: {reason}")]
    Malformed {
        /// The whole spec text.
        spec: String,
        /// What is wrong, in a few words.
        reason: String,
    },
    /// SIZE is not one of 1, 2, 4, 8 (optionally negative).
    #[error(
        "bad size `{size}` in argument spec `{spec}` (expected 1, 2, 4 or 8, negative when signed)"
    )]
    BadSize {
        /// The whole spec text.
        spec: String,
        /// The size as written.
        size: String,
    },
    /// A `%name` that is no x86-64 register.
    #[error("unknown register `%{register}` in argument spec `{spec}`")]
    UnknownRegister {
        /// The whole spec text.
        spec: String,
        /// The register name as written, without `%`.
        register: String,
    },
    /// A real register that ustrace cannot read from `pt_regs`: vector and
    /// x87 registers (`%xmm0`, `%st`), segment, control, debug and mask
    /// registers, or a general register used where it cannot be (`%rip` as
    /// a value, a 32-bit address register).
    #[error("unsupported register `%{register}` in argument spec `{spec}`: {reason}")]
    UnsupportedRegister {
        /// The whole spec text.
        spec: String,
        /// The register name as written, without `%`.
        register: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// The scale of an indexed memory operand is not 1, 2, 4 or 8.
    #[error("bad scale `{scale}` in argument spec `{spec}` (expected 1, 2, 4 or 8)")]
    BadScale {
        /// The whole spec text.
        spec: String,
        /// The scale as written.
        scale: String,
    },
    /// A memory operand form ustrace does not support (no base register).
    #[error("unsupported operand in argument spec `{spec}`: {reason}")]
    UnsupportedOperand {
        /// The whole spec text.
        spec: String,
        /// What is not supported.
        reason: String,
    },
    /// The spec refers to a symbol (`sym+8(%rip)`) or the probe address
    /// (`8(%rip)`), which only the file's symbol table and the note can
    /// supply: use [`parse_raw_arg_spec`] and [`RawArgSpec::resolve`].
    #[error(
        "argument spec `{spec}` is rip-relative or symbolic and needs the ELF file to resolve"
    )]
    NeedsResolution {
        /// The whole spec text.
        spec: String,
    },
    /// A symbol named by the spec is in neither `.symtab` nor `.dynsym`.
    #[error("symbol `{symbol}` of argument spec `{spec}` is not in the file's symbol tables")]
    UnresolvedSymbol {
        /// The whole spec text.
        spec: String,
        /// The symbol name.
        symbol: String,
    },
}

/// An argument spec parsed but not yet resolved against its ELF file:
/// everything is known except the addresses of symbols and of the probe.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawArgSpec {
    /// The spec text, kept for error messages.
    pub text: String,
    /// Size of the value in bytes: 1, 2, 4 or 8.
    pub size: u8,
    /// True when SIZE was negative.
    pub signed: bool,
    /// Where the value is, possibly still symbolic.
    pub location: RawLocation,
}

/// A location that may still name a symbol.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RawLocation {
    /// Nothing left to resolve.
    Resolved(ArgLocation),
    /// `sym+off(%rip)`, `off+sym(%rip)`, `sym(%rip)` or `off(%rip)`.
    ///
    /// With a symbol, the value is at the symbol's address plus `offset`:
    /// GCC writes the operand as the assembler would, and the assembler
    /// turns `sym(%rip)` into "the address of `sym`" whatever rip is.
    /// Without a symbol, the address is `probe pc + offset`: this is what
    /// libbpf's `usdt.c` computes (it reads `offset` bytes from the
    /// `pt_regs` instruction pointer, which a uprobe handler sees set to
    /// the probe address). Both become [`ArgLocation::Static`].
    RipRelative {
        /// The symbol, if the displacement names one.
        symbol: Option<String>,
        /// The numeric part of the displacement.
        offset: i64,
    },
    /// `$sym` or `$sym+off` (non-PIE code): the constant address of a symbol,
    /// resolved to [`ArgLocation::Immediate`].
    SymbolImmediate {
        /// The symbol.
        symbol: String,
        /// Added to the symbol's address.
        offset: i64,
    },
    /// `sym+off(%base[,%index,scale])` with a general base register
    /// (non-PIE code): resolved to [`ArgLocation::Memory`] with the
    /// symbol's address folded into the offset.
    SymbolMemory {
        /// The symbol.
        symbol: String,
        /// Added to the symbol's address.
        offset: i64,
        /// Base register.
        base: Register,
        /// Index register and scale.
        index: Option<(Register, u8)>,
    },
}

impl RawArgSpec {
    /// Resolves the symbolic parts. `pc` is the probe's (adjusted) link-time
    /// address; `lookup` returns a symbol's link-time address.
    pub fn resolve(
        &self,
        pc: u64,
        lookup: impl Fn(&str) -> Option<u64>,
    ) -> Result<ArgSpec, ArgSpecError> {
        let sym = |name: &str| {
            lookup(name).ok_or_else(|| ArgSpecError::UnresolvedSymbol {
                spec: self.text.clone(),
                symbol: name.to_string(),
            })
        };
        let location = match &self.location {
            RawLocation::Resolved(l) => l.clone(),
            RawLocation::RipRelative {
                symbol: None,
                offset,
            } => ArgLocation::Static {
                vaddr: pc.wrapping_add(*offset as u64),
            },
            RawLocation::RipRelative {
                symbol: Some(s),
                offset,
            } => ArgLocation::Static {
                vaddr: sym(s)?.wrapping_add(*offset as u64),
            },
            RawLocation::SymbolImmediate { symbol, offset } => {
                ArgLocation::Immediate(sym(symbol)?.wrapping_add(*offset as u64) as i64)
            }
            RawLocation::SymbolMemory {
                symbol,
                offset,
                base,
                index,
            } => ArgLocation::Memory {
                base: *base,
                index: *index,
                offset: sym(symbol)?.wrapping_add(*offset as u64) as i64,
            },
        };
        Ok(ArgSpec {
            size: self.size,
            signed: self.signed,
            location,
        })
    }

    /// True when [`RawArgSpec::resolve`] needs a symbol table.
    pub fn needs_symbols(&self) -> bool {
        matches!(
            self.location,
            RawLocation::RipRelative {
                symbol: Some(_),
                ..
            } | RawLocation::SymbolImmediate { .. }
                | RawLocation::SymbolMemory { .. }
        )
    }
}

/// Splits a note's argument string into one spec per argument (they are
/// separated by spaces).
pub fn split_args(args: &str) -> Vec<&str> {
    args.split_ascii_whitespace().collect()
}

/// Parses one argument spec that needs no symbol or probe address
/// (`-4@-20(%rbp)`, `8@%rax`, `-4@$5`, `4@(%rbx,%rcx,4)`). A spec with no
/// `SIZE@` prefix (old GCC) is 8 bytes unsigned. Rip-relative and symbolic
/// specs give [`ArgSpecError::NeedsResolution`]; the note reader resolves
/// them with [`parse_raw_arg_spec`] and [`RawArgSpec::resolve`].
pub fn parse_arg_spec(text: &str) -> Result<ArgSpec, ArgSpecError> {
    let raw = parse_raw_arg_spec(text)?;
    match raw.location {
        RawLocation::Resolved(location) => Ok(ArgSpec {
            size: raw.size,
            signed: raw.signed,
            location,
        }),
        _ => Err(ArgSpecError::NeedsResolution { spec: raw.text }),
    }
}

/// Parses one argument spec into its unresolved form. See [`parse_arg_spec`].
pub fn parse_raw_arg_spec(text: &str) -> Result<RawArgSpec, ArgSpecError> {
    let spec = text.trim();
    let malformed = |reason: &str| ArgSpecError::Malformed {
        spec: spec.to_string(),
        reason: reason.to_string(),
    };
    if spec.is_empty() {
        return Err(malformed("empty"));
    }
    let (size, signed, loc) = match spec.split_once('@') {
        Some((sz, loc)) => {
            let (signed, digits) = match sz.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, sz.strip_prefix('+').unwrap_or(sz)),
            };
            let size = match digits {
                "1" => 1,
                "2" => 2,
                "4" => 4,
                "8" => 8,
                _ => {
                    return Err(ArgSpecError::BadSize {
                        spec: spec.to_string(),
                        size: sz.to_string(),
                    })
                }
            };
            (size, signed, loc)
        }
        None => (8, false, spec),
    };
    let location = parse_location(spec, loc)?;
    Ok(RawArgSpec {
        text: spec.to_string(),
        size,
        signed,
        location,
    })
}

fn parse_location(spec: &str, loc: &str) -> Result<RawLocation, ArgSpecError> {
    let malformed = |reason: &str| ArgSpecError::Malformed {
        spec: spec.to_string(),
        reason: reason.to_string(),
    };
    if loc.is_empty() {
        return Err(malformed("empty location after `@`"));
    }
    if let Some(name) = loc.strip_prefix('%') {
        let op = register_operand(spec, name)?;
        if op.reg == Register::Rip {
            return Err(ArgSpecError::UnsupportedRegister {
                spec: spec.to_string(),
                register: name.to_string(),
                reason: "the instruction pointer is not a probe argument".into(),
            });
        }
        return Ok(RawLocation::Resolved(ArgLocation::Register(op)));
    }
    if let Some(imm) = loc.strip_prefix('$') {
        let (symbol, offset) = parse_displacement(spec, imm)?;
        if imm.is_empty() {
            return Err(malformed("empty immediate after `$`"));
        }
        return Ok(match symbol {
            None => RawLocation::Resolved(ArgLocation::Immediate(offset)),
            Some(symbol) => RawLocation::SymbolImmediate { symbol, offset },
        });
    }
    let Some(open) = loc.find('(') else {
        return Err(malformed(
            "expected `%reg`, `$imm` or a memory operand `off(%reg)`",
        ));
    };
    let Some(inner) = loc[open + 1..].strip_suffix(')') else {
        return Err(malformed("memory operand does not end with `)`"));
    };
    let (symbol, offset) = parse_displacement(spec, &loc[..open])?;
    let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
    if parts.len() > 3 {
        return Err(malformed("too many parts in memory operand"));
    }
    if parts[0].is_empty() {
        return Err(ArgSpecError::UnsupportedOperand {
            spec: spec.to_string(),
            reason: "memory operand without a base register".into(),
        });
    }
    let base = address_register(spec, parts[0])?;
    let index = if parts.len() >= 2 {
        let idx = address_register(spec, parts[1])?;
        if idx == Register::Rip || idx == Register::Rsp {
            return Err(ArgSpecError::UnsupportedRegister {
                spec: spec.to_string(),
                register: idx.name64().to_string(),
                reason: "cannot be an index register".into(),
            });
        }
        let scale = match parts.get(2) {
            None => 1,
            Some(s) => match *s {
                "1" => 1,
                "2" => 2,
                "4" => 4,
                "8" => 8,
                _ => {
                    return Err(ArgSpecError::BadScale {
                        spec: spec.to_string(),
                        scale: s.to_string(),
                    })
                }
            },
        };
        Some((idx, scale))
    } else {
        None
    };
    if base == Register::Rip {
        if index.is_some() {
            return Err(malformed("rip-relative operand with an index register"));
        }
        return Ok(RawLocation::RipRelative { symbol, offset });
    }
    Ok(match symbol {
        None => RawLocation::Resolved(ArgLocation::Memory {
            base,
            index,
            offset,
        }),
        Some(symbol) => RawLocation::SymbolMemory {
            symbol,
            offset,
            base,
            index,
        },
    })
}

/// A register used to form an address: `%rax`..`%r15` or `%rip`.
fn address_register(spec: &str, text: &str) -> Result<Register, ArgSpecError> {
    let Some(name) = text.strip_prefix('%') else {
        return Err(ArgSpecError::Malformed {
            spec: spec.to_string(),
            reason: format!("expected a register in memory operand, found `{text}`"),
        });
    };
    let op = register_operand(spec, name)?;
    if op.width != 8 {
        return Err(ArgSpecError::UnsupportedRegister {
            spec: spec.to_string(),
            register: name.to_string(),
            reason: "only 64-bit registers can form an address".into(),
        });
    }
    Ok(op.reg)
}

/// Parses a displacement: numbers (decimal or `0x` hex) and at most one
/// symbol, joined by `+` and `-` (`-20`, `sym`, `sym+8`, `40+sym`, `0x10`).
fn parse_displacement(spec: &str, text: &str) -> Result<(Option<String>, i64), ArgSpecError> {
    let malformed = |reason: String| ArgSpecError::Malformed {
        spec: spec.to_string(),
        reason,
    };
    let mut symbol: Option<String> = None;
    let mut offset: i64 = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut first = true;
    while i < bytes.len() {
        let mut negative = false;
        if bytes[i] == b'+' || bytes[i] == b'-' {
            negative = bytes[i] == b'-';
            i += 1;
        } else if !first {
            return Err(malformed(format!(
                "unexpected `{}` in `{text}`",
                bytes[i] as char
            )));
        }
        first = false;
        let start = i;
        while i < bytes.len() && bytes[i] != b'+' && bytes[i] != b'-' {
            i += 1;
        }
        let term = &text[start..i];
        if term.is_empty() {
            return Err(malformed(format!("missing number or symbol in `{text}`")));
        }
        if term.as_bytes()[0].is_ascii_digit() {
            let v =
                parse_unsigned(term).ok_or_else(|| malformed(format!("bad number `{term}`")))?;
            offset = if negative {
                offset.wrapping_sub(v as i64)
            } else {
                offset.wrapping_add(v as i64)
            };
        } else if is_symbol(term) {
            if negative {
                return Err(malformed(format!("subtracted symbol `{term}`")));
            }
            if symbol.is_some() {
                return Err(malformed(format!("more than one symbol in `{text}`")));
            }
            symbol = Some(term.to_string());
        } else {
            return Err(malformed(format!("bad number or symbol `{term}`")));
        }
    }
    Ok((symbol, offset))
}

fn parse_unsigned(s: &str) -> Option<u64> {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else {
        // A u64 that does not fit i64 is kept as its two's complement bits.
        s.parse::<u64>().ok()
    }
}

fn is_symbol(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '.' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$' | '@'))
}

impl std::fmt::Display for ArgLocation {
    /// AT&T syntax as in the notes; a static address prints as `0x4040(static)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArgLocation::Register(op) => write!(f, "%{}", op.name()),
            ArgLocation::Immediate(v) => write!(f, "${v}"),
            ArgLocation::Memory {
                base,
                index,
                offset,
            } => {
                if *offset != 0 {
                    write!(f, "{offset}")?;
                }
                write!(f, "(%{}", base.name64())?;
                if let Some((idx, scale)) = index {
                    write!(f, ",%{},{scale}", idx.name64())?;
                }
                write!(f, ")")
            }
            ArgLocation::Static { vaddr } => write!(f, "{vaddr:#x}(static)"),
        }
    }
}

impl ArgSpec {
    /// The value's type as bpftrace would name it: `s32`, `u64`, `u8`, ...
    pub fn type_name(&self) -> String {
        format!(
            "{}{}",
            if self.signed { 's' } else { 'u' },
            u32::from(self.size) * 8
        )
    }
}

impl std::fmt::Display for ArgSpec {
    /// `s32 -4(%rbp)`, `u64 %rdi`, `s32 $5`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.type_name(), self.location)
    }
}
