//! Local checks of logo images, run before anything is uploaded.
//!
//! The rules are the Meetings API's: a PNG of at most 1 MB (1,048,576
//! bytes) with a transparent background; a logo is 1–300 px on each side,
//! a favicon square and 16–32 px. "Transparent background" means at least
//! one fully transparent pixel (alpha 0), whether the alpha comes from an
//! alpha channel or from a `tRNS` chunk; an image without either is opaque.
//! Every rule maps to the `invalidProperty` the API reports for it.

use std::io::Cursor;

/// Largest accepted image, in bytes.
pub const MAX_LOGO_BYTES: usize = 1024 * 1024;

/// The eight bytes every PNG starts with.
const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Which rules apply: logos and favicons differ in dimensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogoKind {
    /// A `white` or `colored` logo: 1–300 px on each side.
    Logo,
    /// A favicon: square, 16–32 px.
    Favicon,
}

/// One rule an image breaks, worded for a condition message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// Larger than [`MAX_LOGO_BYTES`].
    #[error("must be at most 1 MB ({MAX_LOGO_BYTES} bytes); got {0} bytes")]
    TooLarge(usize),
    /// Not a PNG at all.
    #[error("must be a PNG image; it does not start with the PNG signature")]
    NotPng,
    /// Has the signature but does not decode.
    #[error("must be a PNG image; it could not be decoded: {0}")]
    Undecodable(String),
    /// A logo outside 1–300 px.
    #[error("logo must be 1–300 px wide and high; got {width}×{height}")]
    LogoDimensions {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// A favicon that is not square or outside 16–32 px.
    #[error("favicon must be square, 16–32 px; got {width}×{height}")]
    FaviconDimensions {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// Neither an alpha channel nor a `tRNS` chunk.
    #[error("must have a transparent background; it has no alpha channel or tRNS transparency")]
    NoAlpha,
    /// Can be transparent, but no pixel is.
    #[error("must have a transparent background; no pixel is fully transparent")]
    NoTransparentPixel,
}

impl Violation {
    /// The API's name of the broken property (`invalidProperty`).
    pub fn property(&self) -> &'static str {
        match self {
            Self::TooLarge(_) => "exceeds_size",
            Self::NotPng | Self::Undecodable(_) => "type",
            Self::LogoDimensions { .. } | Self::FaviconDimensions { .. } => "dimensions",
            Self::NoAlpha | Self::NoTransparentPixel => "transparent_bg",
        }
    }
}

/// Every rule `bytes` breaks as a logo of `kind`; empty when it is acceptable.
///
/// Like the API, the size is always checked, and dimensions are checked
/// before any pixel is decoded (so a huge declared size allocates nothing).
pub fn check(bytes: &[u8], kind: LogoKind) -> Vec<Violation> {
    let mut violations = Vec::new();
    if bytes.len() > MAX_LOGO_BYTES {
        violations.push(Violation::TooLarge(bytes.len()));
    }
    if !bytes.starts_with(&PNG_SIGNATURE) {
        violations.push(Violation::NotPng);
        return violations;
    }
    if let Err(violation) = check_image(bytes, kind) {
        violations.push(violation);
    }
    violations
}

fn check_image(bytes: &[u8], kind: LogoKind) -> Result<(), Violation> {
    let undecodable = |e: png::DecodingError| Violation::Undecodable(e.to_string());
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    // Palette and tRNS become RGB(A)/grey(+alpha), 16-bit samples 8-bit.
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(undecodable)?;
    let (width, height) = {
        let info = reader.info();
        (info.width, info.height)
    };
    dimensions(width, height, kind)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| Violation::Undecodable("the image is too large to decode".into()))?;
    let mut buffer = vec![0u8; size];
    let frame = reader.next_frame(&mut buffer).map_err(undecodable)?;
    let pixels = buffer.get(..frame.buffer_size()).unwrap_or_default();
    let (channels, alpha) = match frame.color_type {
        png::ColorType::Rgba => (4, 3),
        png::ColorType::GrayscaleAlpha => (2, 1),
        _ => return Err(Violation::NoAlpha),
    };
    if pixels.chunks_exact(channels).any(|px| px[alpha] == 0) {
        Ok(())
    } else {
        Err(Violation::NoTransparentPixel)
    }
}

fn dimensions(width: u32, height: u32, kind: LogoKind) -> Result<(), Violation> {
    match kind {
        LogoKind::Logo if (1..=300).contains(&width) && (1..=300).contains(&height) => Ok(()),
        LogoKind::Logo => Err(Violation::LogoDimensions { width, height }),
        LogoKind::Favicon if width == height && (16..=32).contains(&width) => Ok(()),
        LogoKind::Favicon => Err(Violation::FaviconDimensions { width, height }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(
        width: u32,
        height: u32,
        color: png::ColorType,
        depth: png::BitDepth,
        data: &[u8],
        trns: Option<&[u8]>,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut out, width, height);
            encoder.set_color(color);
            encoder.set_depth(depth);
            if color == png::ColorType::Indexed {
                encoder.set_palette(vec![0, 0, 0, 255, 255, 255]);
            }
            if let Some(trns) = trns {
                encoder.set_trns(trns.to_vec());
            }
            let mut writer = encoder.write_header().unwrap();
            writer.write_image_data(data).unwrap();
        }
        out
    }

    /// White RGBA; with `transparent`, the top-left pixel is fully transparent.
    fn rgba(width: u32, height: u32, transparent: bool) -> Vec<u8> {
        let mut data = vec![255u8; (width * height * 4) as usize];
        if transparent {
            data[3] = 0;
        }
        encode(
            width,
            height,
            png::ColorType::Rgba,
            png::BitDepth::Eight,
            &data,
            None,
        )
    }

    #[test]
    fn accepts_logos_and_favicons_at_the_limits() {
        for (w, h) in [(1, 1), (300, 300), (300, 40), (1, 300)] {
            assert_eq!(check(&rgba(w, h, true), LogoKind::Logo), [], "{w}×{h}");
        }
        for side in [16, 24, 32] {
            assert_eq!(check(&rgba(side, side, true), LogoKind::Favicon), []);
        }
    }

    #[test]
    fn rejects_dimensions_with_the_actual_size() {
        assert_eq!(
            check(&rgba(301, 10, true), LogoKind::Logo),
            [Violation::LogoDimensions {
                width: 301,
                height: 10
            }]
        );
        assert_eq!(
            check(&rgba(10, 301, true), LogoKind::Logo)[0].property(),
            "dimensions"
        );
        for (w, h) in [(40, 40), (15, 15), (33, 33), (16, 17), (300, 20)] {
            let violations = check(&rgba(w, h, true), LogoKind::Favicon);
            assert_eq!(
                violations,
                [Violation::FaviconDimensions {
                    width: w,
                    height: h
                }]
            );
        }
        assert_eq!(
            Violation::FaviconDimensions {
                width: 40,
                height: 40
            }
            .to_string(),
            "favicon must be square, 16–32 px; got 40×40"
        );
    }

    #[test]
    fn requires_a_fully_transparent_pixel() {
        let opaque = check(&rgba(10, 10, false), LogoKind::Logo);
        assert_eq!(opaque, [Violation::NoTransparentPixel]);
        assert_eq!(opaque[0].property(), "transparent_bg");
        // Half-transparent is not transparent.
        let mut data = vec![255u8; 4 * 4];
        data[3] = 1;
        let faint = encode(
            2,
            2,
            png::ColorType::Rgba,
            png::BitDepth::Eight,
            &data,
            None,
        );
        assert_eq!(
            check(&faint, LogoKind::Logo),
            [Violation::NoTransparentPixel]
        );
        let rgb = encode(
            4,
            4,
            png::ColorType::Rgb,
            png::BitDepth::Eight,
            &[0; 48],
            None,
        );
        assert_eq!(check(&rgb, LogoKind::Logo), [Violation::NoAlpha]);
        let grey_alpha = encode(
            2,
            1,
            png::ColorType::GrayscaleAlpha,
            png::BitDepth::Eight,
            &[9, 255, 9, 0],
            None,
        );
        assert_eq!(check(&grey_alpha, LogoKind::Logo), []);
        // 16-bit alpha: a zero sample is transparent.
        let deep = encode(
            1,
            2,
            png::ColorType::Rgba,
            png::BitDepth::Sixteen,
            &[255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            None,
        );
        assert_eq!(check(&deep, LogoKind::Logo), []);
    }

    #[test]
    fn trns_counts_as_transparency() {
        // Palette entry 0 fully transparent, used by one pixel.
        let palette = encode(
            2,
            2,
            png::ColorType::Indexed,
            png::BitDepth::Eight,
            &[0, 1, 1, 1],
            Some(&[0]),
        );
        assert_eq!(check(&palette, LogoKind::Logo), []);
        // Same palette, transparent entry unused: opaque.
        let unused = encode(
            2,
            2,
            png::ColorType::Indexed,
            png::BitDepth::Eight,
            &[1, 1, 1, 1],
            Some(&[0]),
        );
        assert_eq!(
            check(&unused, LogoKind::Logo),
            [Violation::NoTransparentPixel]
        );
        // RGB with a colour key matching black.
        let keyed = encode(
            2,
            1,
            png::ColorType::Rgb,
            png::BitDepth::Eight,
            &[0, 0, 0, 9, 9, 9],
            Some(&[0, 0, 0, 0, 0, 0]),
        );
        assert_eq!(check(&keyed, LogoKind::Logo), []);
    }

    #[test]
    fn rejects_what_is_not_a_png() {
        for bytes in [&b"GIF89a...."[..], b"", b"\x89PNG"] {
            let violations = check(bytes, LogoKind::Logo);
            assert_eq!(violations, [Violation::NotPng], "{bytes:?}");
            assert_eq!(violations[0].property(), "type");
        }
        let mut truncated = rgba(20, 20, true);
        truncated.truncate(40);
        let violations = check(&truncated, LogoKind::Logo);
        assert!(
            matches!(violations[..], [Violation::Undecodable(_)]),
            "{violations:?}"
        );
        assert_eq!(violations[0].property(), "type");
    }

    #[test]
    fn size_is_checked_with_the_other_rules() {
        let mut big = rgba(10, 10, false);
        big.resize(MAX_LOGO_BYTES + 1, 0);
        let violations = check(&big, LogoKind::Logo);
        assert_eq!(
            violations,
            [
                Violation::TooLarge(MAX_LOGO_BYTES + 1),
                Violation::NoTransparentPixel
            ]
        );
        assert_eq!(violations[0].property(), "exceeds_size");
        assert_eq!(
            violations[0].to_string(),
            "must be at most 1 MB (1048576 bytes); got 1048577 bytes"
        );
        let mut exactly = rgba(10, 10, true);
        exactly.resize(MAX_LOGO_BYTES, 0);
        assert_eq!(check(&exactly, LogoKind::Logo), []);
    }
}
