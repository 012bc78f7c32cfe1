//! Plain ES modules, minified by oxc one file at a time (no bundling): each `js/NAME.js` becomes `js/NAME.HASH.js`,
//! and an import of a sibling (`import { x } from "./forms.js"`) is rewritten to the sibling's hashed name, so a
//! module's hash changes when anything it imports changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use oxc_allocator::Allocator;
use oxc_codegen::{Codegen, CodegenOptions};
use oxc_minifier::{Minifier, MinifierOptions};
use oxc_parser::Parser;
use oxc_span::SourceType;

/// One minified module.
#[derive(Debug)]
pub struct Script {
    /// `js/app.js`
    pub name: String,
    /// `js/app.0123abcd.js`
    pub file: String,
    pub code: String,
}

struct Minified {
    code: String,
    /// `./forms.js`-style specifiers of sibling modules.
    imports: Vec<String>,
}

fn minify(path: &Path) -> anyhow::Result<Minified> {
    let source = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, &source, SourceType::mjs()).parse();
    if parsed.panicked || parsed.diagnostics.has_errors() {
        let problems: Vec<String> = parsed.diagnostics.errors().map(ToString::to_string).collect();
        bail!("{}: {}", path.display(), problems.join("; "));
    }
    let imports = parsed
        .module_record
        .requested_modules
        .keys()
        .map(|specifier| specifier.to_string())
        .filter(|specifier| specifier.starts_with("./"))
        .collect();
    let mut program = parsed.program;
    let minified = Minifier::new(MinifierOptions::default()).minify(&allocator, &mut program);
    let code =
        Codegen::new().with_options(CodegenOptions::minify()).with_scoping(minified.scoping).build(&program).code;
    Ok(Minified { code, imports })
}

/// Minifies every module and names each by its content, dependencies first.
pub fn compile_all(paths: &[PathBuf]) -> anyhow::Result<Vec<Script>> {
    let mut pending: BTreeMap<String, Minified> = BTreeMap::new();
    for path in paths {
        let name = path.file_name().context("a module has a file name")?.to_string_lossy().into_owned();
        pending.insert(name, minify(path)?);
    }
    for (name, module) in &pending {
        for import in &module.imports {
            if !pending.contains_key(&import[2..]) {
                bail!("js/{name} imports {import}, which is not a module in js/");
            }
        }
    }
    // Hashed names of the modules already done, by specifier (`./forms.js` → `./forms.0123abcd.js`).
    let mut done: BTreeMap<String, String> = BTreeMap::new();
    let mut scripts = Vec::new();
    while !pending.is_empty() {
        let ready: Vec<String> = pending
            .iter()
            .filter(|(_, module)| module.imports.iter().all(|import| done.contains_key(import)))
            .map(|(name, _)| name.clone())
            .collect();
        if ready.is_empty() {
            let names: Vec<&String> = pending.keys().collect();
            bail!("the modules {names:?} import each other in a cycle; the builder needs an order");
        }
        for name in ready {
            let module = pending.remove(&name).expect("listed above");
            let mut code = module.code;
            for import in &module.imports {
                code = code.replace(&format!("\"{import}\""), &format!("\"{}\"", done[import]));
            }
            let file = crate::hashed_name(&format!("js/{name}"), "js", code.as_bytes());
            let file_name = file.rsplit('/').next().expect("js/ prefix").to_string();
            done.insert(format!("./{name}"), format!("./{file_name}"));
            scripts.push(Script { name: format!("js/{name}"), file, code });
        }
    }
    Ok(scripts)
}
