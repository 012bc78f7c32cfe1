//! Sass (grass) then lightningcss: minified, with vendor prefixes and fallbacks for the browsers in [`targets`].

use std::path::Path;

use anyhow::{Context as _, anyhow};
use lightningcss::printer::PrinterOptions;
use lightningcss::stylesheet::{MinifyOptions, ParserOptions, StyleSheet};
use lightningcss::targets::{Browsers, Targets};

/// The oldest browsers the CSS is written for: releases of early 2023 and later (`major << 16 | minor << 8`).
fn targets() -> Targets {
    let version = |major: u32, minor: u32| Some((major << 16) | (minor << 8));
    Targets::from(Browsers {
        chrome: version(109, 0),
        edge: version(109, 0),
        firefox: version(115, 0),
        safari: version(15, 4),
        ios_saf: version(15, 4),
        samsung: version(20, 0),
        ..Browsers::default()
    })
}

/// Compiles one Sass entry point to minified CSS.
pub fn compile(path: &Path) -> anyhow::Result<String> {
    let options = grass::Options::default().style(grass::OutputStyle::Expanded);
    let css = grass::from_path(path, &options).map_err(|err| anyhow!("{}: {err}", path.display()))?;
    minify(&css).with_context(|| format!("optimising the CSS of {}", path.display()))
}

/// Minifies CSS for [`targets`].
pub fn minify(css: &str) -> anyhow::Result<String> {
    let mut sheet = StyleSheet::parse(css, ParserOptions::default()).map_err(|err| anyhow!("{err}"))?;
    sheet.minify(MinifyOptions { targets: targets(), ..MinifyOptions::default() }).map_err(|err| anyhow!("{err}"))?;
    let printed = sheet
        .to_css(PrinterOptions { minify: true, targets: targets(), ..PrinterOptions::default() })
        .map_err(|err| anyhow!("{err}"))?;
    Ok(printed.code)
}
