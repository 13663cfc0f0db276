//! `@Image1` / `@Video1` / `@Audio1` asset references in prompts: parsing and rewriting.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssetKind {
    Image,
    Video,
    Audio,
}

impl AssetKind {
    pub fn tag(self) -> &'static str {
        match self {
            AssetKind::Image => "Image",
            AssetKind::Video => "Video",
            AssetKind::Audio => "Audio",
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            AssetKind::Image => "image",
            AssetKind::Video => "video",
            AssetKind::Audio => "audio",
        }
    }
}

/// One reference found in a prompt: its byte span, kind and 1-based index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference {
    pub start: usize,
    pub end: usize,
    pub kind: AssetKind,
    pub index: u32,
}

/// Every `@Image<N>`, `@Video<N>`, `@Audio<N>` in the prompt, in order.
pub fn find(prompt: &str) -> Vec<Reference> {
    let bytes = prompt.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'@' {
            for kind in [AssetKind::Image, AssetKind::Video, AssetKind::Audio] {
                let tag = kind.tag().as_bytes();
                let after = i + 1 + tag.len();
                if bytes.len() >= after && &bytes[i + 1..after] == tag {
                    let digits = bytes[after..]
                        .iter()
                        .take_while(|b| b.is_ascii_digit())
                        .count();
                    if digits > 0 && digits <= 4 {
                        let end = after + digits;
                        let index = prompt[after..end].parse().unwrap_or(0);
                        out.push(Reference {
                            start: i,
                            end,
                            kind,
                            index,
                        });
                        i = end;
                        break;
                    }
                }
            }
        }
        i += 1;
    }
    out
}

/// Replace each reference with what `render` makes of it; the rest of the prompt is kept.
pub fn rewrite(prompt: &str, mut render: impl FnMut(AssetKind, u32) -> String) -> String {
    let mut out = String::with_capacity(prompt.len() + 16);
    let mut last = 0;
    for r in find(prompt) {
        out.push_str(&prompt[last..r.start]);
        out.push_str(&render(r.kind, r.index));
        last = r.end;
    }
    out.push_str(&prompt[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_references_in_chinese_and_english_text() {
        let refs = find("让 @Image1 中的人物走进 @Video2,配上@Audio1。email a@b.c @Imagex");
        let got: Vec<_> = refs.iter().map(|r| (r.kind, r.index)).collect();
        assert_eq!(
            got,
            vec![
                (AssetKind::Image, 1),
                (AssetKind::Video, 2),
                (AssetKind::Audio, 1)
            ]
        );
    }

    #[test]
    fn rewrite_keeps_surrounding_text() {
        let out = rewrite("@Image1 和 @Image12 对话", |k, n| {
            format!("[{} {n}]", k.tag())
        });
        assert_eq!(out, "[Image 1] 和 [Image 12] 对话");
    }
}
