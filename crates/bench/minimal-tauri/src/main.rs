//! A hello-world Tauri app with a tray icon: the yardstick for the desktop app's footprint.
fn main() {
    tauri::Builder::default()
        .setup(|app| {
            tauri::tray::TrayIconBuilder::new()
                .icon(app.default_window_icon().cloned().expect("an icon"))
                .build(app)?;
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("the app runs");
}
