//! Field offsets of kernel structures, read from the running kernel's own
//! BTF (`/sys/kernel/btf/vmlinux`) when a script is compiled: no kernel
//! headers. `ppid` reads `current->real_parent->tgid` with them; the
//! `ustack` walker reads a code address's mapping and file identity
//! (`bpf_find_vma`) with them.

use std::ffi::{CStr, CString};
use std::ptr::NonNull;

use libbpf_sys as sys;
use ustrace_codegen::{TaskParentOffsets, VmaOffsets};

/// Why a kernel structure's layout is unknown.
#[derive(Debug, thiserror::Error)]
pub enum KernelTypeError {
    /// The kernel exposes no BTF (or it cannot be parsed).
    #[error("cannot read the kernel's BTF (/sys/kernel/btf/vmlinux): {0}")]
    NoBtf(std::io::Error),
    /// The BTF has no such structure.
    #[error("the kernel's BTF has no struct {0}")]
    NoStruct(String),
    /// The structure has no such field.
    #[error("struct {structure} in the kernel's BTF has no field {field}")]
    NoField {
        /// The structure.
        structure: String,
        /// The field looked for.
        field: String,
    },
    /// The field is a bit field (not byte-addressable).
    #[error("{structure}.{field} is a bit field")]
    BitField {
        /// The structure.
        structure: String,
        /// The field.
        field: String,
    },
}

const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_TYPE_TAG: u32 = 18;

/// The kernel's BTF, loaded by libbpf.
struct VmlinuxBtf(NonNull<sys::btf>);

impl Drop for VmlinuxBtf {
    fn drop(&mut self) {
        // SAFETY: the pointer came from btf__load_vmlinux_btf and is freed once.
        unsafe { sys::btf__free(self.0.as_ptr()) }
    }
}

impl VmlinuxBtf {
    fn load() -> Result<VmlinuxBtf, KernelTypeError> {
        // SAFETY: no arguments; the result is a heap object or null (errno).
        let raw = unsafe { sys::btf__load_vmlinux_btf() };
        NonNull::new(raw)
            .map(VmlinuxBtf)
            .ok_or_else(|| KernelTypeError::NoBtf(std::io::Error::last_os_error()))
    }

    fn type_by_id(&self, id: u32) -> Option<&sys::btf_type> {
        // SAFETY: libbpf returns null or a pointer into the BTF it owns,
        // which lives as long as `self`.
        unsafe { sys::btf__type_by_id(self.0.as_ptr(), id).as_ref() }
    }

    fn name(&self, offset: u32) -> &str {
        // SAFETY: a pointer into the BTF's string section (NUL-terminated)
        // or null.
        let p = unsafe { sys::btf__name_by_offset(self.0.as_ptr(), offset) };
        if p.is_null() {
            return "";
        }
        // SAFETY: checked non-null above; the string lives with `self`.
        unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("")
    }

    /// The members of struct/union `t`: (name offset, type id, bit offset).
    fn members(&self, t: &sys::btf_type) -> Vec<(u32, u32, u32)> {
        let vlen = (t.info & 0xffff) as usize;
        let kind_flag = t.info >> 31 == 1;
        // SAFETY: BTF stores a struct's `vlen` btf_member records right
        // after its btf_type; libbpf validated the section when loading it.
        let first = unsafe { (t as *const sys::btf_type).add(1) as *const sys::btf_member };
        (0..vlen)
            .map(|i| {
                // SAFETY: i < vlen, inside the validated record array.
                let m = unsafe { &*first.add(i) };
                let bits = if kind_flag {
                    m.offset & 0x00ff_ffff
                } else {
                    m.offset
                };
                (m.name_off, m.type_, bits)
            })
            .collect()
    }

    /// The struct or union a type id names, past typedefs and qualifiers.
    fn aggregate(&self, mut id: u32) -> Option<&sys::btf_type> {
        for _ in 0..32 {
            let t = self.type_by_id(id)?;
            match (t.info >> 24) & 0x1f {
                KIND_STRUCT | KIND_UNION => return Some(t),
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    // SAFETY: for these kinds the union holds a type id.
                    id = unsafe { t.__bindgen_anon_1.type_ };
                }
                _ => return None,
            }
        }
        None
    }

    /// The bit offset of `field` in `t`, looking into anonymous members.
    fn field_bits(&self, t: &sys::btf_type, field: &str) -> Option<u32> {
        for (name_off, type_id, bits) in self.members(t) {
            let name = self.name(name_off);
            if name == field {
                return Some(bits);
            }
            if name.is_empty() {
                if let Some(inner) = self.aggregate(type_id) {
                    if let Some(b) = self.field_bits(inner, field) {
                        return Some(bits + b);
                    }
                }
            }
        }
        None
    }

    /// The byte offset of `structure.field`.
    fn offset_of(&self, structure: &str, field: &str) -> Result<u32, KernelTypeError> {
        let cname = CString::new(structure)
            .map_err(|_| KernelTypeError::NoStruct(structure.to_string()))?;
        // SAFETY: a valid BTF and a NUL-terminated name.
        let id =
            unsafe { sys::btf__find_by_name_kind(self.0.as_ptr(), cname.as_ptr(), KIND_STRUCT) };
        let t = u32::try_from(id)
            .ok()
            .and_then(|id| self.type_by_id(id))
            .ok_or_else(|| KernelTypeError::NoStruct(structure.to_string()))?;
        let bits = self
            .field_bits(t, field)
            .ok_or_else(|| KernelTypeError::NoField {
                structure: structure.to_string(),
                field: field.to_string(),
            })?;
        if bits % 8 != 0 {
            return Err(KernelTypeError::BitField {
                structure: structure.to_string(),
                field: field.to_string(),
            });
        }
        Ok(bits / 8)
    }
}

/// Where `task_struct` keeps `real_parent` and `tgid` in this kernel.
pub fn task_parent_offsets() -> Result<TaskParentOffsets, KernelTypeError> {
    let btf = VmlinuxBtf::load()?;
    Ok(TaskParentOffsets {
        real_parent: btf.offset_of("task_struct", "real_parent")?,
        tgid: btf.offset_of("task_struct", "tgid")?,
    })
}

/// Where `vm_area_struct`, `file`, `inode`, `super_block` and `dentry`
/// keep the fields that name a mapping's file (device, inode, name parts)
/// and its place in it.
pub fn vma_offsets() -> Result<VmaOffsets, KernelTypeError> {
    let btf = VmlinuxBtf::load()?;
    Ok(VmaOffsets {
        vm_start: btf.offset_of("vm_area_struct", "vm_start")?,
        vm_end: btf.offset_of("vm_area_struct", "vm_end")?,
        vm_pgoff: btf.offset_of("vm_area_struct", "vm_pgoff")?,
        vm_flags: btf.offset_of("vm_area_struct", "vm_flags")?,
        vm_file: btf.offset_of("vm_area_struct", "vm_file")?,
        f_inode: btf.offset_of("file", "f_inode")?,
        i_ino: btf.offset_of("inode", "i_ino")?,
        i_sb: btf.offset_of("inode", "i_sb")?,
        s_dev: btf.offset_of("super_block", "s_dev")?,
        f_path_dentry: btf.offset_of("file", "f_path")? + btf.offset_of("path", "dentry")?,
        d_name_name: btf.offset_of("dentry", "d_name")? + btf.offset_of("qstr", "name")?,
        d_parent: btf.offset_of("dentry", "d_parent")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_kernels_task_struct_has_both_fields() {
        // Every kernel this project supports has BTF (it is required for
        // uprobe_multi); the offsets are within task_struct and distinct.
        let offsets = task_parent_offsets().expect("kernel BTF");
        assert!(offsets.real_parent > 0 && offsets.tgid > 0);
        assert_ne!(offsets.real_parent, offsets.tgid);
        assert_eq!(offsets.real_parent % 8, 0, "a pointer is 8-byte aligned");
        assert_eq!(offsets.tgid % 4, 0, "pid_t is 4-byte aligned");
    }

    #[test]
    fn the_running_kernels_vma_fields_are_found() {
        let o = vma_offsets().expect("kernel BTF");
        // vm_start and vm_end open vm_area_struct (in every kernel since
        // 2.6); the pointers are 8-byte aligned.
        assert_eq!((o.vm_start, o.vm_end), (0, 8));
        for off in [
            o.vm_file, o.f_inode, o.i_sb, o.vm_pgoff, o.vm_flags, o.i_ino,
        ] {
            assert_eq!(off % 8, 0, "{o:?}");
        }
        assert_eq!(o.s_dev % 4, 0, "dev_t is 4-byte aligned");
    }

    #[test]
    fn unknown_names_are_errors_naming_them() {
        let btf = VmlinuxBtf::load().expect("kernel BTF");
        assert_eq!(
            btf.offset_of("task_struct", "no_such_field")
                .expect_err("no field")
                .to_string(),
            "struct task_struct in the kernel's BTF has no field no_such_field"
        );
        assert_eq!(
            btf.offset_of("no_such_struct_here", "x")
                .expect_err("no struct")
                .to_string(),
            "the kernel's BTF has no struct no_such_struct_here"
        );
    }
}
