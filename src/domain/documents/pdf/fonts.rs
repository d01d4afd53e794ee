//! The bundled font (DejaVu Sans, regular and bold: Latin and Cyrillic; licence in
//! `assets/fonts/`), and measuring text with it so lines can be wrapped before they are
//! drawn. Widths are the sum of glyph advances without kerning, which is never narrower
//! than the shaped text krilla draws: a measured line always fits.
use std::sync::LazyLock;

pub(super) static REGULAR: &[u8] = include_bytes!("../../../../assets/fonts/DejaVuSans.ttf");
pub(super) static BOLD: &[u8] = include_bytes!("../../../../assets/fonts/DejaVuSans-Bold.ttf");

struct Metrics {
    face: ttf_parser::Face<'static>,
    per_em: f32,
}

impl Metrics {
    fn new(data: &'static [u8]) -> Self {
        // The bundled files are valid fonts; a test parses both.
        let face = ttf_parser::Face::parse(data, 0).unwrap_or_else(|e| panic!("bundled font: {e}"));
        let per_em = f32::from(face.units_per_em());
        Metrics { face, per_em }
    }

    fn advance(&self, c: char) -> f32 {
        let id = self.face.glyph_index(c).unwrap_or(ttf_parser::GlyphId(0));
        f32::from(self.face.glyph_hor_advance(id).unwrap_or(0)) / self.per_em
    }
}

static METRICS: LazyLock<[Metrics; 2]> =
    LazyLock::new(|| [Metrics::new(REGULAR), Metrics::new(BOLD)]);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Weight {
    Regular,
    Bold,
}

/// The width of `text` at `size` points.
pub(super) fn width(text: &str, size: f32, weight: Weight) -> f32 {
    let m = &METRICS[weight as usize];
    text.chars().map(|c| m.advance(c)).sum::<f32>() * size
}

/// Control characters draw as nothing useful (a tab or a bidi override in a title):
/// spaces instead, so widths and the drawn text agree.
fn printable(c: char) -> char {
    if c.is_control() { ' ' } else { c }
}

/// `text` broken into lines no wider than `max` points: at spaces where possible, inside
/// a word when the word alone is wider. Explicit line breaks are kept; empty text is one
/// empty line.
pub(super) fn wrap(text: &str, size: f32, weight: Weight, max: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let paragraph: String = paragraph
            .trim_end_matches('\r')
            .chars()
            .map(printable)
            .collect();
        let mut line = String::new();
        for word in paragraph.split(' ') {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if width(&candidate, size, weight) <= max {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // The word alone: split it where it overflows.
            for c in word.chars() {
                line.push(c);
                if width(&line, size, weight) > max && line.chars().count() > 1 {
                    line.pop();
                    lines.push(std::mem::take(&mut line));
                    line.push(c);
                }
            }
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_faces_parse_and_have_cyrillic() {
        for data in [REGULAR, BOLD] {
            let face = ttf_parser::Face::parse(data, 0).unwrap();
            assert!(face.glyph_index('Ж').is_some());
        }
        assert!(width("Ж", 10.0, Weight::Bold) > width("i", 10.0, Weight::Regular));
    }

    #[test]
    fn lines_fit_and_keep_every_character() {
        let text = "Трещина в несущей стене секции 4, ось Б-В/7\nвторая строка Сверхдлинноеслововкотороммногобукв";
        let lines = wrap(text, 9.0, Weight::Regular, 80.0);
        assert!(lines.len() > 3, "{lines:?}");
        for l in &lines {
            assert!(width(l, 9.0, Weight::Regular) <= 80.0, "{l}");
        }
        let joined: String = lines
            .concat()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let original: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        assert_eq!(joined, original);
        assert_eq!(wrap("", 9.0, Weight::Regular, 80.0), [""]);
    }
}
