//! Resolution inside a directory used as a root: what each kind of watched path yields.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use kotel_common::file_open::{kind, name_length_bit};
use kotel_common::vfs::{kernel_dev, InodeKey};

use super::{mount_root_name_len, open_root, resolve_in_root, WatchedPath};

/// A directory tree under the temp dir, removed on drop.
struct Tree(PathBuf);

impl Tree {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("kotel-watch-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("etc/ssh")).unwrap();
        std::fs::write(dir.join("etc/shadow"), b"x").unwrap();
        Self(dir)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn key_of(path: &Path) -> InodeKey {
    let m = std::fs::metadata(path).unwrap();
    InodeKey {
        dev: kernel_dev(libc::major(m.dev()), libc::minor(m.dev())),
        _pad: 0,
        ino: m.ino(),
    }
}

fn paths(list: &[&str]) -> Vec<WatchedPath> {
    WatchedPath::all(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
}

#[test]
fn trailing_slashes_are_dropped_and_indexes_kept() {
    let all = paths(&["/etc/shadow", "/root/.ssh/", "/var//"]);
    let got: Vec<(u32, &str)> = all.iter().map(|w| (w.index, w.path.as_str())).collect();
    assert_eq!(got, [(0, "/etc/shadow"), (1, "/root/.ssh"), (2, "/var")]);
}

#[test]
fn a_file_is_watched_by_inode_and_its_directory_by_name() {
    let t = Tree::new("file");
    let root = open_root(&t.0).unwrap();
    let (set, problems) = resolve_in_root(&root, "tree", &paths(&["/etc/shadow"]), "");
    assert!(problems.is_empty(), "{problems:?}");
    let file = set.inodes[&key_of(&t.0.join("etc/shadow"))];
    assert_eq!((file.kinds, file.index), (kind::FILE, 0));
    let parent = set.inodes[&key_of(&t.0.join("etc"))];
    assert_eq!(parent.kinds, kind::PARENT);
    let names: Vec<(InodeKey, String)> = set
        .names
        .keys()
        .map(|k| {
            let end = k.name.iter().position(|&b| b == 0).unwrap();
            (k.dir, String::from_utf8(k.name[..end].to_vec()).unwrap())
        })
        .collect();
    assert_eq!(names, [(key_of(&t.0.join("etc")), "shadow".to_string())]);
}

#[test]
fn a_directory_is_watched_as_one_and_a_missing_file_by_name_only() {
    let t = Tree::new("dir");
    let root = open_root(&t.0).unwrap();
    let (set, _) = resolve_in_root(&root, "tree", &paths(&["/etc/ssh/", "/etc/gshadow"]), "");
    let dir = set.inodes[&key_of(&t.0.join("etc/ssh"))];
    assert_eq!((dir.kinds, dir.index), (kind::DIRECTORY, 0));
    // /etc holds both: the directory /etc/ssh and the (missing) file /etc/gshadow.
    let etc = set.inodes[&key_of(&t.0.join("etc"))];
    assert_eq!(etc.kinds, kind::PARENT);
    assert_eq!(set.inodes.len(), 2, "{set:?}");
    assert_eq!(set.names.len(), 2, "ssh and gshadow");
    // The kernel reads the inode of a directory above an opened file only when it is
    // named with 3 bytes ("ssh"), and of a file's own directory as a holder of watched
    // files only then too ("etc").
    assert_eq!(set.dir_name_lengths, name_length_bit(3));
    assert_eq!(set.parent_name_lengths, name_length_bit(3));
    let (files_only, _) = resolve_in_root(&root, "tree", &paths(&["/etc/gshadow"]), "");
    assert_eq!(
        (files_only.dir_name_lengths, files_only.parent_name_lengths),
        (0, name_length_bit(3)),
        "no watched directory: no directory is read as one"
    );
}

#[test]
fn a_mount_root_is_named_after_the_directory_it_shows() {
    let mountinfo = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 22 0:25 / /run rw,nosuid shared:5 - tmpfs tmpfs rw
41 22 254:0 /srv/data\\040x /mnt/x rw - ext4 /dev/vda rw
";
    assert_eq!(mount_root_name_len(mountinfo, 22), Some(1));
    assert_eq!(
        mount_root_name_len(mountinfo, 30),
        Some(1),
        "a whole filesystem: its root"
    );
    assert_eq!(
        mount_root_name_len(mountinfo, 41),
        Some(6),
        "a bind mount: \"data x\""
    );
    assert_eq!(mount_root_name_len(mountinfo, 99), None);
}

#[test]
fn symlinks_and_dotdot_stay_inside_the_root() {
    let t = Tree::new("links");
    // An absolute symlink: inside the root it means <root>/etc/shadow, not the host's.
    std::os::unix::fs::symlink("/etc/shadow", t.0.join("etc/link")).unwrap();
    let root = open_root(&t.0).unwrap();
    let (set, _) = resolve_in_root(
        &root,
        "tree",
        &paths(&["/etc/link", "/../../etc/shadow"]),
        "",
    );
    let inside = key_of(&t.0.join("etc/shadow"));
    assert_eq!(set.inodes[&inside].kinds, kind::FILE);
    if let Ok(host) = std::fs::metadata("/etc/shadow") {
        let host = InodeKey {
            dev: kernel_dev(libc::major(host.dev()), libc::minor(host.dev())),
            _pad: 0,
            ino: host.ino(),
        };
        assert!(!set.inodes.contains_key(&host), "escaped the root");
    }
}

#[test]
fn a_missing_directory_yields_nothing_and_no_problem() {
    let t = Tree::new("missing");
    let root = open_root(&t.0).unwrap();
    let (set, problems) = resolve_in_root(&root, "tree", &paths(&["/nope/deeper/file"]), "");
    assert!(set.inodes.is_empty() && set.names.is_empty());
    assert!(problems.is_empty(), "{problems:?}");
}
