; The Windows installer of Kendrix Sync, built by scripts/release.sh (and, agent only, by the
; installer story of scripts/test.sh) with Debian's makensis:
;
;   makensis -DVERSION=0.1.0 -DAGENT_EXE=path\kendrix.exe [-DDESKTOP_EXE=path\kendrix-desktop.exe]
;            -DICON=icons\icon.ico -DOUT_FILE=Kendrix-Sync-0.1.0-setup.exe scripts/windows/kendrix.nsi
;
; It installs to "%ProgramFiles%\Kendrix Sync": kendrix.exe (added to the system PATH and
; registered as the Kendrix service, which starts with Windows), and the desktop tray app
; when built with DESKTOP_EXE (Start menu shortcut; it starts at sign-in from its own
; settings). A PC takes either or both: the components page offers them, and a silent
; install (/S) takes both. The uninstaller stops and removes the service, takes the folder
; off PATH and removes the program files; the queue and log in %ProgramData%\Kendrix stay
; (delete that folder by hand once nothing is waiting).
;
; WebView2: the desktop app needs Microsoft's WebView2 Runtime, which Windows 10 (since
; 2021 updates) and 11 ship. The installer looks for it as Tauri's installers do (the
; EdgeUpdate client key); where it is missing it says so, offers Microsoft's download page,
; and installs the rest (the agent and the service do not need it).

; A 64-bit installer (the program is 64-bit too; Wine's 64-bit-only install runs it).
Target amd64-unicode
ManifestDPIAware true
RequestExecutionLevel admin
SetCompressor /SOLID lzma

!include "MUI2.nsh"
!include "LogicLib.nsh"
!include "WordFunc.nsh"
!include "x64.nsh"

!ifndef VERSION
  !error "pass -DVERSION=x.y.z"
!endif
!ifndef AGENT_EXE
  !error "pass -DAGENT_EXE=path to kendrix.exe"
!endif
!ifndef OUT_FILE
  !define OUT_FILE "Kendrix-Sync-${VERSION}-setup.exe"
!endif

!define PRODUCT "Kendrix Sync"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\KendrixSync"
!define ENVIRONMENT_KEY "SYSTEM\CurrentControlSet\Control\Session Manager\Environment"
!define WEBVIEW2_CLIENT "{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"

Name "${PRODUCT} ${VERSION}"
OutFile "${OUT_FILE}"
InstallDir "$PROGRAMFILES64\${PRODUCT}"
InstallDirRegKey HKLM "${UNINSTALL_KEY}" "InstallLocation"
BrandingText "${PRODUCT} ${VERSION}"
!ifdef ICON
  !define MUI_ICON "${ICON}"
  !define MUI_UNICON "${ICON}"
!endif

!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "${PRODUCT} needs 64-bit Windows."
    Abort
  ${EndIf}
  SetRegView 64
FunctionEnd

Section "-Program files" SecCommon
  SetOutPath "$INSTDIR"
  File "/oname=kendrix.exe" "${AGENT_EXE}"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "Publisher" "Kendrix"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoRepair" 1
  ; kendrix.exe on the system PATH, once.
  ReadRegStr $0 HKLM "${ENVIRONMENT_KEY}" "Path"
  ClearErrors
  ${WordFind} "$0" "$INSTDIR" "E+1{" $1
  ${If} ${Errors}
    WriteRegExpandStr HKLM "${ENVIRONMENT_KEY}" "Path" "$0;$INSTDIR"
    SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=5000
  ${EndIf}
SectionEnd

Section "Sync service (syncs this PC unattended)" SecService
  ; An earlier version's service is replaced (its queue in %ProgramData%\Kendrix stays).
  nsExec::ExecToLog '"$INSTDIR\kendrix.exe" service uninstall'
  Pop $0
  nsExec::ExecToLog '"$INSTDIR\kendrix.exe" service install'
  Pop $0
  ${If} $0 != 0
    MessageBox MB_ICONEXCLAMATION "The Kendrix service could not be registered (exit code $0). Run 'kendrix service install' from an administrator's prompt to see why." /SD IDOK
  ${Else}
    ; It runs idle until enrolled: `kendrix service enroll -` from an administrator's prompt.
    nsExec::ExecToLog '"$INSTDIR\kendrix.exe" service start'
    Pop $0
  ${EndIf}
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "Service" 1
SectionEnd

!ifdef DESKTOP_EXE
Section "Desktop app (tray, Sync Now, admin console)" SecDesktop
  SetOutPath "$INSTDIR"
  File "/oname=kendrix-desktop.exe" "${DESKTOP_EXE}"
  SetShellVarContext all
  CreateShortcut "$SMPROGRAMS\${PRODUCT}.lnk" "$INSTDIR\kendrix-desktop.exe"
  ReadRegStr $0 HKLM "SOFTWARE\WOW6432Node\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_CLIENT}" "pv"
  ReadRegStr $1 HKCU "Software\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_CLIENT}" "pv"
  ${If} "$0$1" == ""
  ${OrIf} "$0$1" == "0.0.0.0"
    MessageBox MB_YESNO|MB_ICONINFORMATION "The desktop app needs Microsoft's WebView2 Runtime, which this PC lacks (Windows 10 and 11 normally include it). Open Microsoft's download page now? The sync service works without it." /SD IDNO IDNO +2
    ExecShell "open" "https://developer.microsoft.com/microsoft-edge/webview2/"
  ${EndIf}
SectionEnd
!endif

Section "Uninstall"
  SetRegView 64
  nsExec::ExecToLog '"$INSTDIR\kendrix.exe" service uninstall'
  Pop $0
  ReadRegStr $0 HKLM "${ENVIRONMENT_KEY}" "Path"
  ${WordReplace} "$0" ";$INSTDIR" "" "+" $1
  WriteRegExpandStr HKLM "${ENVIRONMENT_KEY}" "Path" "$1"
  SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=5000
  SetShellVarContext all
  Delete "$SMPROGRAMS\${PRODUCT}.lnk"
  Delete "$INSTDIR\kendrix.exe"
  Delete "$INSTDIR\kendrix-desktop.exe"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKLM "${UNINSTALL_KEY}"
SectionEnd
