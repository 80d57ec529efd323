//! How types are written: as bpftrace writes them in `-lv` (`struct req*`,
//! `const char**`, `long unsigned int`), extended to what bpftrace shows as
//! `<unknown type>` (volatile, function pointers, references).
//!
//! C and Rust records are `struct NAME` / `union NAME` (bpftrace's style,
//! Rust's `&str` being `struct &str`); C++ records, enums and typedefs by
//! their qualified name (`shop::Item`), as C++ itself writes them.

use std::cell::Cell;

use crate::types::{Language, Qualifier, RecordKind, Type, TypeId, TypeTable};

/// Types a name may visit (a corrupt file can make function types whose
/// parameters are themselves, many times over).
const NAME_BUDGET: u32 = 256;

/// Names longer than this (only corrupt files make them) are cut.
const MAX_NAME: usize = 4096;

impl TypeTable {
    /// How type `id` is written (`struct req*`, `int[2][3]`, `int (*)(int)`).
    pub fn name(&self, id: TypeId) -> String {
        let budget = Cell::new(NAME_BUDGET);
        let mut name = self.name_bounded(id, 0, &budget);
        if name.len() > MAX_NAME {
            let mut cut = MAX_NAME;
            while !name.is_char_boundary(cut) {
                cut -= 1;
            }
            name.truncate(cut);
            name.push_str("...");
        }
        name
    }

    fn name_bounded(&self, id: TypeId, depth: u32, budget: &Cell<u32>) -> String {
        if depth > 32 || budget.get() == 0 {
            return "...".to_string();
        }
        budget.set(budget.get() - 1);
        let cpp = self.language(id) == Language::Cpp;
        match self.get(id) {
            Type::Void => "void".to_string(),
            Type::Base { name, .. } | Type::Typedef { name, .. } => name.clone(),
            Type::Unsupported { name } => name.clone(),
            Type::Pointer { pointee } => self.pointer_name(*pointee, "*", depth, budget),
            Type::Reference { pointee, rvalue } => {
                self.pointer_name(*pointee, if *rvalue { "&&" } else { "&" }, depth, budget)
            }
            Type::Record(r) => {
                let keyword = match r.kind {
                    RecordKind::Struct => "struct",
                    RecordKind::Class => "class",
                    RecordKind::Union => "union",
                };
                match (&r.name, cpp) {
                    (Some(n), true) => n.clone(),
                    (Some(n), false) => format!("{keyword} {n}"),
                    (None, _) => format!("{keyword} (anonymous)"),
                }
            }
            Type::Enum(e) => match (&e.name, cpp) {
                (Some(n), true) => n.clone(),
                (Some(n), false) => format!("enum {n}"),
                (None, _) => "enum (anonymous)".to_string(),
            },
            Type::Array { .. } => {
                let mut dims = String::new();
                let mut current = id;
                let mut steps = 0;
                while let Type::Array { element, count } = self.get(current) {
                    match count {
                        Some(n) => dims.push_str(&format!("[{n}]")),
                        None => dims.push_str("[]"),
                    }
                    current = *element;
                    steps += 1;
                    if steps > 32 {
                        break;
                    }
                }
                format!("{}{dims}", self.name_bounded(current, depth + 1, budget))
            }
            Type::Qualified { .. } => self.qualified_name(id, depth, budget),
            Type::Function {
                ret,
                params,
                variadic,
            } => format!(
                "{} ({})",
                self.name_bounded(*ret, depth + 1, budget),
                self.parameter_list(params, *variadic, depth, budget)
            ),
        }
    }

    /// `const volatile int`, or `char* const` when a pointer is qualified.
    fn qualified_name(&self, id: TypeId, depth: u32, budget: &Cell<u32>) -> String {
        let mut qualifiers: Vec<Qualifier> = Vec::new();
        let mut current = id;
        let mut steps = 0;
        while let Type::Qualified { qualifier, inner } = self.get(current) {
            if !qualifiers.contains(qualifier) {
                qualifiers.push(*qualifier);
            }
            current = *inner;
            // A corrupt file can make a qualifier qualify itself.
            steps += 1;
            if steps > 8 {
                return "...".to_string();
            }
        }
        // C writes `const volatile`, whatever order DWARF nests them in.
        qualifiers.sort_by_key(|q| *q as u8);
        let words: Vec<&str> = qualifiers.iter().map(|q| q.keyword()).collect();
        let inner = self.name_bounded(current, depth + 1, budget);
        match self.get(current) {
            Type::Pointer { .. } | Type::Reference { .. } => {
                format!("{inner} {}", words.join(" "))
            }
            _ => format!("{} {inner}", words.join(" ")),
        }
    }

    /// `T*`, or `int (*)(int)` for a pointer to a function, `int (*)[4]` for
    /// a pointer to an array.
    fn pointer_name(&self, pointee: TypeId, sigil: &str, depth: u32, budget: &Cell<u32>) -> String {
        match self.get(pointee) {
            Type::Function {
                ret,
                params,
                variadic,
            } => format!(
                "{} ({sigil})({})",
                self.name_bounded(*ret, depth + 1, budget),
                self.parameter_list(params, *variadic, depth, budget)
            ),
            Type::Array { .. } => {
                let whole = self.name_bounded(pointee, depth + 1, budget);
                match whole.find('[') {
                    Some(i) => format!("{} ({sigil}){}", &whole[..i], &whole[i..]),
                    None => format!("{whole}{sigil}"),
                }
            }
            _ => format!("{}{sigil}", self.name_bounded(pointee, depth + 1, budget)),
        }
    }

    fn parameter_list(
        &self,
        params: &[TypeId],
        variadic: bool,
        depth: u32,
        budget: &Cell<u32>,
    ) -> String {
        let mut parts: Vec<String> = params
            .iter()
            .map(|p| self.name_bounded(*p, depth + 1, budget))
            .collect();
        if variadic {
            parts.push("...".to_string());
        }
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Encoding, Record};

    fn int(t: &mut TypeTable) -> TypeId {
        t.add(
            Type::Base {
                name: "int".into(),
                size: 4,
                encoding: Encoding::Signed,
            },
            Language::C,
        )
    }

    #[test]
    fn names_like_bpftrace() {
        let mut t = TypeTable::new();
        let char_ = t.add(
            Type::Base {
                name: "char".into(),
                size: 1,
                encoding: Encoding::SignedChar,
            },
            Language::C,
        );
        let cchar = t.add(
            Type::Qualified {
                qualifier: Qualifier::Const,
                inner: char_,
            },
            Language::C,
        );
        let p = t.add(Type::Pointer { pointee: cchar }, Language::C);
        let pp = t.add(Type::Pointer { pointee: p }, Language::C);
        assert_eq!(t.name(pp), "const char**");
        let constp = t.add(
            Type::Qualified {
                qualifier: Qualifier::Const,
                inner: p,
            },
            Language::C,
        );
        assert_eq!(t.name(constp), "const char* const");
        let i = int(&mut t);
        let inner = t.add(
            Type::Array {
                element: i,
                count: Some(3),
            },
            Language::C,
        );
        let outer = t.add(
            Type::Array {
                element: inner,
                count: Some(2),
            },
            Language::C,
        );
        assert_eq!(t.name(outer), "int[2][3]");
        let pa = t.add(Type::Pointer { pointee: inner }, Language::C);
        assert_eq!(t.name(pa), "int (*)[3]");
        let f = t.add(
            Type::Function {
                ret: i,
                params: vec![i],
                variadic: true,
            },
            Language::C,
        );
        let fp = t.add(Type::Pointer { pointee: f }, Language::C);
        assert_eq!(t.name(fp), "int (*)(int, ...)");
        let rec = |name: &str| {
            Type::Record(Record {
                kind: RecordKind::Class,
                name: Some(name.into()),
                size: Some(8),
                members: vec![],
                variant_part: None,
                pass_by_reference: false,
            })
        };
        let item = t.add(rec("shop::Item"), Language::Cpp);
        let citem = t.add(
            Type::Qualified {
                qualifier: Qualifier::Const,
                inner: item,
            },
            Language::Cpp,
        );
        let r = t.add(
            Type::Reference {
                pointee: citem,
                rvalue: false,
            },
            Language::Cpp,
        );
        assert_eq!(t.name(r), "const shop::Item&");
        let creq = t.add(rec("req"), Language::C);
        assert_eq!(t.name(creq), "class req");
    }
}
