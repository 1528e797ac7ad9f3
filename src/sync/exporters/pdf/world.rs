//! The little world a report is typeset in: typst's standard library, the fonts shipped in
//! `assets/fonts/`, the fixed template as the only source file, the report's data as the only
//! other file, and the run's date as "today".
//!
//! Everything that does not depend on the report (library, font book, parsed fonts, the
//! template's source) is built once per process, on the first report, and shared by every
//! report after it. Nothing here reads a file, a font directory, the environment or the clock:
//! a file the template asks for that is not one of the two is "not found".

use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Utc};
use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};

/// The fixed template (typst markup written by us; the data never becomes markup).
const TEMPLATE: &str = include_str!("report.typ");

/// The fonts every report is set in, embedded in the binary (see `assets/fonts/README.md`).
const FONT_FILES: [&[u8]; 5] = [
    include_bytes!("../../../../assets/fonts/DejaVuSans.ttf"),
    include_bytes!("../../../../assets/fonts/DejaVuSans-Bold.ttf"),
    include_bytes!("../../../../assets/fonts/NotoSansArabic-Regular.ttf"),
    include_bytes!("../../../../assets/fonts/NotoSansHebrew-Regular.ttf"),
    include_bytes!("../../../../assets/fonts/NotoEmoji-Regular.ttf"),
];

/// The path the template reads its data from (`json("data.json")`).
pub const DATA_PATH: &str = "data.json";

/// What every report shares: built once, on first use.
struct Shared {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
    /// Every code point some shipped font has a glyph for, sorted.
    covered: Vec<u32>,
    main: Source,
    data_id: FileId,
}

static SHARED: LazyLock<Shared> = LazyLock::new(|| {
    let fonts: Vec<Font> = FONT_FILES
        .iter()
        .flat_map(|data| Font::iter(Bytes::new(*data)))
        .collect();
    let id = |path: &str| {
        let vpath = VirtualPath::new(path).expect("a fixed relative path is valid");
        FileId::new(RootedPath::new(VirtualRoot::Project, vpath))
    };
    let mut covered: Vec<u32> = fonts
        .iter()
        .flat_map(|f| f.info().coverage.iter())
        .collect();
    covered.sort_unstable();
    covered.dedup();
    Shared {
        library: LazyHash::new(Library::builder().build()),
        book: LazyHash::new(FontBook::from_fonts(&fonts)),
        fonts,
        covered,
        main: Source::new(id("report.typ"), TEMPLATE.to_owned()),
        data_id: id(DATA_PATH),
    }
});

/// Whether `c` can be shown: a shipped font has a glyph for it, or it is white space or a
/// format character that shaping consumes (joiners, variation selectors, direction marks).
/// PDF/A forbids text without a glyph, so anything else must not reach the template.
pub fn displayable(c: char) -> bool {
    if c.is_ascii_graphic() || c.is_whitespace() {
        return true;
    }
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{E0000}'..='\u{E007F}'
            | '\u{E0100}'..='\u{E01EF}'
    ) || (!c.is_control() && SHARED.covered.binary_search(&u32::from(c)).is_ok())
}

/// How many font faces the shipped files hold (a test checks every file parsed).
#[cfg(test)]
pub fn font_count() -> usize {
    SHARED.fonts.len()
}

/// One report's world: the shared parts, its data and its date.
pub struct ReportWorld {
    data: Bytes,
    /// The run's time: the template's `datetime.today()`, never the clock.
    at: DateTime<Utc>,
}

impl ReportWorld {
    pub fn new(data: Vec<u8>, at: DateTime<Utc>) -> Self {
        Self {
            data: Bytes::new(data),
            at,
        }
    }

    fn not_found(id: FileId) -> FileError {
        FileError::NotFound(id.vpath().get_without_slash().into())
    }
}

impl World for ReportWorld {
    fn library(&self) -> &LazyHash<Library> {
        &SHARED.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &SHARED.book
    }

    fn main(&self) -> FileId {
        SHARED.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == SHARED.main.id() {
            Ok(SHARED.main.clone())
        } else {
            Err(Self::not_found(id))
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == SHARED.data_id {
            Ok(self.data.clone())
        } else if id == SHARED.main.id() {
            Ok(Bytes::from_string(SHARED.main.clone()))
        } else {
            Err(Self::not_found(id))
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        SHARED.fonts.get(index).cloned()
    }

    fn today(&self, offset: Option<Duration>) -> Option<Datetime> {
        // The run's date in UTC, or at the offset asked for.
        let seconds = offset.map_or(0, |o| o.seconds() as i64);
        let at = self.at + chrono::Duration::seconds(seconds);
        Datetime::from_ymd(at.year(), at.month() as u8, at.day() as u8)
    }
}
