//! The length of an MP4 video from its `mvhd` (or, failing that, `mdhd`) box: enough to
//! settle a task on what was made when upstream does not say, with no ffmpeg.

use std::io::{Read, Seek, SeekFrom};

/// The most of a `moov` box read into memory; real ones are kilobytes.
const MAX_MOOV: u64 = 32 * 1024 * 1024;

/// One box header: its type, where its body starts and how long the body is.
struct BoxHeader {
    kind: [u8; 4],
    body: usize,
    len: usize,
}

/// The box at `at` in `data`, if its header and size fit.
fn header(data: &[u8], at: usize) -> Option<BoxHeader> {
    let head = data.get(at..at.checked_add(8)?)?;
    let size32 = u32::from_be_bytes(head[0..4].try_into().ok()?);
    let kind: [u8; 4] = head[4..8].try_into().ok()?;
    let (body, size) = match size32 {
        0 => (at + 8, data.len() - at),
        1 => {
            let large = data.get(at + 8..at + 16)?;
            let size = usize::try_from(u64::from_be_bytes(large.try_into().ok()?)).ok()?;
            (at + 16, size)
        }
        n => (at + 8, n as usize),
    };
    let end = at.checked_add(size)?;
    if end > data.len() || end < body {
        return None;
    }
    Some(BoxHeader {
        kind,
        body,
        len: end - body,
    })
}

/// The bodies of the child boxes of type `kind` inside `data`.
fn children<'a>(data: &'a [u8], kind: &'a [u8; 4]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut at = 0;
    std::iter::from_fn(move || {
        while let Some(h) = header(data, at) {
            at = h.body + h.len;
            if &h.kind == kind {
                return Some(&data[h.body..h.body + h.len]);
            }
        }
        None
    })
}

/// Seconds from an `mvhd` or `mdhd` body (the two share this layout). Zero or "all ones"
/// durations mean unknown.
fn header_seconds(body: &[u8]) -> Option<f64> {
    let version = *body.first()?;
    let (timescale, duration) = match version {
        0 => (
            u32::from_be_bytes(body.get(12..16)?.try_into().ok()?),
            u64::from(u32::from_be_bytes(body.get(16..20)?.try_into().ok()?)),
        ),
        1 => (
            u32::from_be_bytes(body.get(20..24)?.try_into().ok()?),
            u64::from_be_bytes(body.get(24..32)?.try_into().ok()?),
        ),
        _ => return None,
    };
    let unknown = duration == 0 || duration == u64::from(u32::MAX) || duration == u64::MAX;
    if timescale == 0 || unknown {
        return None;
    }
    Some(duration as f64 / f64::from(timescale))
}

/// The length in seconds from the body of a `moov` box: the movie header, else the
/// longest track's media header.
pub fn moov_seconds(moov: &[u8]) -> Option<f64> {
    if let Some(s) = children(moov, b"mvhd").next().and_then(header_seconds) {
        return Some(s);
    }
    children(moov, b"trak")
        .flat_map(|t| children(t, b"mdia"))
        .flat_map(|m| children(m, b"mdhd"))
        .filter_map(header_seconds)
        .reduce(f64::max)
}

/// The length in seconds of a whole MP4 file held in memory.
pub fn seconds(data: &[u8]) -> Option<f64> {
    children(data, b"moov").next().and_then(moov_seconds)
}

/// The length in seconds of an MP4 read from `r`, reading only box headers and the
/// `moov` box (which may come after the media data).
pub fn read_seconds<R: Read + Seek>(r: &mut R) -> Option<f64> {
    let mut at = 0u64;
    loop {
        r.seek(SeekFrom::Start(at)).ok()?;
        let mut head = [0u8; 8];
        r.read_exact(&mut head).ok()?;
        let size32 = u32::from_be_bytes(head[0..4].try_into().ok()?);
        let (hlen, size) = match size32 {
            0 => return None, // runs to the end of the file: nothing after it
            1 => {
                let mut large = [0u8; 8];
                r.read_exact(&mut large).ok()?;
                (16u64, u64::from_be_bytes(large))
            }
            n => (8, u64::from(n)),
        };
        if size < hlen {
            return None;
        }
        if &head[4..8] == b"moov" {
            let len = size - hlen;
            if len > MAX_MOOV {
                return None;
            }
            let mut body = vec![0u8; usize::try_from(len).ok()?];
            r.read_exact(&mut body).ok()?;
            return moov_seconds(&body);
        }
        at = at.checked_add(size)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    fn header_v0(timescale: u32, duration: u32) -> Vec<u8> {
        let mut b = vec![0u8; 4 + 8];
        b.extend_from_slice(&timescale.to_be_bytes());
        b.extend_from_slice(&duration.to_be_bytes());
        b.extend_from_slice(&[0u8; 80]);
        b
    }

    fn header_v1(timescale: u32, duration: u64) -> Vec<u8> {
        let mut b = vec![1u8, 0, 0, 0];
        b.extend_from_slice(&[0u8; 16]);
        b.extend_from_slice(&timescale.to_be_bytes());
        b.extend_from_slice(&duration.to_be_bytes());
        b.extend_from_slice(&[0u8; 80]);
        b
    }

    fn track(mdhd: Vec<u8>) -> Vec<u8> {
        mp4_box(b"trak", &mp4_box(b"mdia", &mp4_box(b"mdhd", &mdhd)))
    }

    fn file(moov_body: Vec<u8>, moov_last: bool) -> Vec<u8> {
        let ftyp = mp4_box(b"ftyp", b"isom\0\0\x02\0isomiso2mp41");
        let mdat = mp4_box(b"mdat", &[7u8; 300]);
        let moov = mp4_box(b"moov", &moov_body);
        if moov_last {
            [ftyp, mdat, moov].concat()
        } else {
            [ftyp, moov, mdat].concat()
        }
    }

    fn both(data: &[u8]) -> Option<f64> {
        let a = seconds(data);
        let b = read_seconds(&mut std::io::Cursor::new(data));
        assert_eq!(a, b);
        a
    }

    #[test]
    fn the_demo_videos_last_what_they_say() {
        let demo = include_bytes!("../../assets/demo.mp4");
        assert_eq!(both(demo), Some(3.0));
        let portrait = include_bytes!("../../assets/demo-9x16.mp4");
        let s = both(portrait).unwrap();
        assert!(s > 0.5 && s < 30.0, "{s}");
    }

    #[test]
    fn duration_table() {
        let cases: Vec<(&str, Vec<u8>, Option<f64>)> = vec![
            (
                "mvhd v0",
                file(mp4_box(b"mvhd", &header_v0(1000, 5041)), false),
                Some(5.041),
            ),
            (
                "mvhd v1, moov last",
                file(mp4_box(b"mvhd", &header_v1(90_000, 900_000)), true),
                Some(10.0),
            ),
            (
                "mvhd unknown, longest mdhd",
                file(
                    [
                        mp4_box(b"mvhd", &header_v0(1000, 0)),
                        track(header_v0(12_800, 64_000)),
                        track(header_v1(44_100, 264_600)),
                    ]
                    .concat(),
                    false,
                ),
                Some(6.0),
            ),
            (
                "timescale 0",
                file(mp4_box(b"mvhd", &header_v0(0, 10)), false),
                None,
            ),
            ("no moov", mp4_box(b"ftyp", b"isom"), None),
            ("empty", Vec::new(), None),
            (
                "bad version",
                file(mp4_box(b"mvhd", &[9u8; 40]), false),
                None,
            ),
            (
                "truncated mvhd",
                file(mp4_box(b"mvhd", &[0u8; 10]), false),
                None,
            ),
        ];
        for (name, data, want) in cases {
            assert_eq!(both(&data), want, "{name}");
        }
    }

    #[test]
    fn large_sizes_and_lying_sizes_are_safe() {
        // A 64-bit size header on the moov box.
        let body = mp4_box(b"mvhd", &header_v0(600, 1800));
        let mut moov = 1u32.to_be_bytes().to_vec();
        moov.extend_from_slice(b"moov");
        moov.extend_from_slice(&((body.len() + 16) as u64).to_be_bytes());
        moov.extend_from_slice(&body);
        assert_eq!(both(&moov), Some(3.0));
        // A box claiming more bytes than there are, and one claiming fewer than its header.
        let mut lying = file(mp4_box(b"mvhd", &header_v0(1000, 5000)), false);
        lying[0..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(seconds(&lying), None);
        let mut tiny = file(mp4_box(b"mvhd", &header_v0(1000, 5000)), false);
        tiny[0..4].copy_from_slice(&3u32.to_be_bytes());
        assert_eq!(both(&tiny), None);
    }
}
