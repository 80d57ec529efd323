//! Running the call frame information of one ELF file into table rows.

use gimli::{
    BaseAddresses, CieOrFde, DebugFrame, EhFrame, EndianSlice, LittleEndian, Register,
    RegisterRule, UnwindContext, UnwindSection,
};
use object::{Object, ObjectSection};

use crate::{CfaRule, RbpRule, Row, UnwindError, UnwindTable};

const RBP: Register = Register(6);
const RSP: Register = Register(7);
const RIP: Register = Register(16);

type Slice<'a> = EndianSlice<'a, LittleEndian>;

/// Where the frame information of a file lives.
pub struct Sections<'a> {
    /// `.eh_frame` bytes and address.
    pub eh_frame: Option<(&'a [u8], u64)>,
    /// `.debug_frame` bytes.
    pub debug_frame: Option<&'a [u8]>,
    /// `.text` address (base of text-relative pointers).
    pub text: u64,
    /// `.got` address (base of data-relative pointers).
    pub got: u64,
}

/// The table of an ELF file's contents: from `.eh_frame`, else from
/// `.debug_frame`. A file with neither gives an empty table.
pub fn table_from_elf(data: &[u8], path: &str) -> Result<UnwindTable, UnwindError> {
    let file = object::File::parse(data).map_err(|e| UnwindError::Elf {
        path: path.to_string(),
        message: e.to_string(),
    })?;
    let section = |name: &str| {
        file.section_by_name(name)
            .and_then(|s| Some((s.data().ok()?, s.address())))
            .filter(|(d, _)| !d.is_empty())
    };
    let sections = Sections {
        eh_frame: section(".eh_frame"),
        debug_frame: section(".debug_frame").map(|(d, _)| d),
        text: section(".text").map_or(0, |(_, a)| a),
        got: section(".got").map_or(0, |(_, a)| a),
    };
    table_from_sections(&sections)
}

/// The table of the given sections (see [`table_from_elf`]).
pub fn table_from_sections(s: &Sections<'_>) -> Result<UnwindTable, UnwindError> {
    let mut rows = Vec::new();
    let bases = BaseAddresses::default()
        .set_text(s.text)
        .set_got(s.got)
        .set_eh_frame(s.eh_frame.map_or(0, |(_, a)| a));
    if let Some((data, _)) = s.eh_frame {
        let section = EhFrame::new(data, LittleEndian);
        collect(&section, &bases, ".eh_frame", &mut rows)?;
    } else if let Some(data) = s.debug_frame {
        let mut section = DebugFrame::new(data, LittleEndian);
        section.set_address_size(8);
        collect(&section, &bases, ".debug_frame", &mut rows)?;
    }
    Ok(finish(rows))
}

/// Appends the rows of every FDE of `section`, each FDE followed by an
/// [`CfaRule::Unknown`] row at its end (overwritten by a following FDE that
/// starts there).
fn collect<'a, S: UnwindSection<Slice<'a>>>(
    section: &S,
    bases: &BaseAddresses,
    name: &'static str,
    rows: &mut Vec<Row>,
) -> Result<(), UnwindError> {
    let err = |offset: u64, e: gimli::Error| UnwindError::Dwarf {
        section: name,
        offset,
        message: e.to_string(),
    };
    let mut ctx = Box::new(UnwindContext::new());
    let mut entries = section.entries(bases);
    loop {
        let entry = match entries.next() {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(e) => return Err(err(0, e)),
        };
        let CieOrFde::Fde(partial) = entry else {
            continue;
        };
        let fde = match partial.parse(|sec, b, o| sec.cie_from_offset(b, o)) {
            Ok(f) => f,
            // One bad FDE costs its own range only.
            Err(_) => continue,
        };
        let start = fde.initial_address();
        let end = start.saturating_add(fde.len());
        if fde.len() == 0 {
            continue;
        }
        let mut table = match fde.rows(section, bases, &mut ctx) {
            Ok(t) => t,
            Err(_) => continue,
        };
        let first = rows.len();
        loop {
            match table.next_row() {
                Ok(Some(row)) => {
                    if row.start_address() >= end {
                        break;
                    }
                    rows.push(Row {
                        pc: row.start_address(),
                        cfa: cfa_rule(row.cfa(), section, row.register(RIP)),
                        rbp: match row.register(RBP) {
                            Some(RegisterRule::Offset(o)) => {
                                i16::try_from(o).map_or(RbpRule::Unchanged, RbpRule::AtCfa)
                            }
                            _ => RbpRule::Unchanged,
                        },
                    });
                }
                Ok(None) => break,
                Err(_) => {
                    // A broken FDE program: drop what it produced.
                    rows.truncate(first);
                    break;
                }
            }
        }
        if rows.len() > first {
            rows.push(Row {
                pc: end,
                cfa: CfaRule::Unknown,
                rbp: RbpRule::Unchanged,
            });
        }
    }
    Ok(())
}

/// The CFA rule of a row, given the return address's rule.
fn cfa_rule<'a, S: UnwindSection<Slice<'a>>>(
    cfa: &gimli::CfaRule<usize>,
    section: &S,
    ra: Option<RegisterRule<usize>>,
) -> CfaRule {
    match ra {
        Some(RegisterRule::Undefined) => return CfaRule::Stop,
        Some(RegisterRule::Offset(-8)) | None => {}
        Some(_) => return CfaRule::Unknown,
    }
    match cfa {
        gimli::CfaRule::RegisterAndOffset { register, offset } => {
            let Ok(off) = i32::try_from(*offset) else {
                return CfaRule::Unknown;
            };
            match *register {
                RSP => CfaRule::Rsp(off),
                RBP => CfaRule::Rbp(off),
                _ => CfaRule::Unknown,
            }
        }
        gimli::CfaRule::Expression(e) => match e.get(section) {
            Ok(expr) => plt_rule(expr.0.slice()),
            Err(_) => CfaRule::Unknown,
        },
    }
}

/// Recognizes the PLT stub CFA expression binutils emits:
/// `DW_OP_breg7 (rsp) N; DW_OP_breg16 (rip) 0; DW_OP_lit15; DW_OP_and;
/// DW_OP_litK; DW_OP_ge; DW_OP_lit3; DW_OP_shl; DW_OP_plus`.
fn plt_rule(bytes: &[u8]) -> CfaRule {
    const DW_OP_LIT0: u8 = 0x30;
    match bytes {
        [0x77, n, 0x80, 0x00, 0x3f, 0x1a, lit, 0x2a, 0x33, 0x24, 0x22]
            if *n < 0x40 && (DW_OP_LIT0..DW_OP_LIT0 + 16).contains(lit) =>
        {
            CfaRule::Plt {
                offset: i32::from(*n),
                threshold: lit - DW_OP_LIT0,
            }
        }
        _ => CfaRule::Unknown,
    }
}

/// Sorts rows by address (a later FDE's row wins over an earlier end
/// marker at the same address) and drops rows that repeat their
/// predecessor's rules.
fn finish(mut rows: Vec<Row>) -> UnwindTable {
    // Stable sort: among equal addresses, keep section order, then let a
    // real row replace an Unknown end marker.
    rows.sort_by_key(|r| (r.pc, r.cfa != CfaRule::Unknown));
    let mut out: Vec<Row> = Vec::with_capacity(rows.len());
    for r in rows {
        if let Some(last) = out.last_mut() {
            if last.pc == r.pc {
                *last = r;
                continue;
            }
            if last.cfa == r.cfa && last.rbp == r.rbp {
                continue;
            }
        }
        out.push(r);
    }
    // Merging may have put equal neighbours side by side again.
    out.dedup_by(|b, a| a.cfa == b.cfa && a.rbp == b.rbp);
    out.shrink_to_fit();
    UnwindTable { rows: out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_plt_expression() {
        let expr = [0x77, 8, 0x80, 0, 0x3f, 0x1a, 0x3b, 0x2a, 0x33, 0x24, 0x22];
        assert_eq!(
            plt_rule(&expr),
            CfaRule::Plt {
                offset: 8,
                threshold: 11
            }
        );
        assert_eq!(plt_rule(&expr[..5]), CfaRule::Unknown);
    }

    #[test]
    fn end_markers_yield_to_following_fde() {
        let row = |pc, cfa| Row {
            pc,
            cfa,
            rbp: RbpRule::Unchanged,
        };
        let t = finish(vec![
            row(0x10, CfaRule::Rsp(8)),
            row(0x20, CfaRule::Unknown),
            row(0x20, CfaRule::Rsp(8)),
            row(0x30, CfaRule::Unknown),
        ]);
        assert_eq!(
            t.rows,
            vec![row(0x10, CfaRule::Rsp(8)), row(0x30, CfaRule::Unknown)]
        );
    }
}
