; Windows installer for Desktop LLM: a per-user install (no administrator rights needed) with
; Start-menu and desktop shortcuts and an uninstaller. Built by `python packaging/build.py`, which
; passes VERSION, BUNDLE (the PyInstaller folder), ICON and OUTFILE with -D.
;
;   %LOCALAPPDATA%\Programs\Desktop LLM\desktop-llm.exe   the bundle
;   Start menu\Programs\Desktop LLM.lnk, Desktop\Desktop LLM.lnk
;   HKCU\...\Uninstall\DesktopLLM                         "Apps & features" entry
;
; The window is Microsoft Edge WebView2; Windows 11 has it, older Windows 10 may not. The installer
; checks and, when it is missing, offers Microsoft's WebView2 bootstrapper download page.

Unicode true
!include "MUI2.nsh"

!ifndef VERSION
  !error "pass -DVERSION=x.y.z"
!endif

!define APP_NAME "Desktop LLM"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\DesktopLLM"
; Microsoft's documented client id of the Evergreen WebView2 runtime.
!define WEBVIEW2_KEY "Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"
!define WEBVIEW2_DOWNLOAD "https://go.microsoft.com/fwlink/p/?LinkId=2124703"

Name "${APP_NAME}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\${APP_NAME}"
InstallDirRegKey HKCU "${UNINSTALL_KEY}" "InstallLocation"
RequestExecutionLevel user
SetCompressor /SOLID lzma

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_FINISHPAGE_RUN "$INSTDIR\desktop-llm.exe"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${APP_NAME}"
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Function HasWebView2
  ; Per-machine installs are under WOW6432Node on 64-bit Windows; per-user under HKCU.
  ReadRegStr $0 HKLM "SOFTWARE\WOW6432Node\${WEBVIEW2_KEY}" "pv"
  StrCmp $0 "" 0 found
  ReadRegStr $0 HKLM "SOFTWARE\${WEBVIEW2_KEY}" "pv"
  StrCmp $0 "" 0 found
  ReadRegStr $0 HKCU "Software\${WEBVIEW2_KEY}" "pv"
  StrCmp $0 "" 0 found
  StrCpy $0 "0.0.0.0"
  found:
FunctionEnd

Function .onInit
  Call HasWebView2
  StrCmp $0 "0.0.0.0" 0 done
  MessageBox MB_YESNO|MB_ICONEXCLAMATION \
    "${APP_NAME} needs the Microsoft Edge WebView2 Runtime, which is not installed on this PC.$\r$\n$\r$\nOpen Microsoft's download page for it now? (Install it, then run this installer again.)" \
    IDNO done
  ExecShell "open" "${WEBVIEW2_DOWNLOAD}"
  Abort
  done:
FunctionEnd

Section "Install"
  SetOutPath "$INSTDIR"
  File /r "${BUNDLE}\*.*"
  WriteUninstaller "$INSTDIR\Uninstall.exe"
  CreateShortcut "$SMPROGRAMS\${APP_NAME}.lnk" "$INSTDIR\desktop-llm.exe"
  CreateShortcut "$DESKTOP\${APP_NAME}.lnk" "$INSTDIR\desktop-llm.exe"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${APP_NAME}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "Desktop LLM"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\desktop-llm.exe"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\Uninstall.exe"'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
SectionEnd

Section "Uninstall"
  ; The user's chats, settings and models live in %LOCALAPPDATA%\DesktopLLM\desktop-llm and are kept.
  Delete "$SMPROGRAMS\${APP_NAME}.lnk"
  Delete "$DESKTOP\${APP_NAME}.lnk"
  RMDir /r "$INSTDIR"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
SectionEnd
