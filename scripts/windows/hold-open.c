/* Test aid for the Wine stories (never shipped): a Windows program that saves a file in
 * place the way many exporters do, holding it open with no sharing while it writes.
 *
 *   hold-open.exe TARGET SOURCE MILLISECONDS
 *
 * Opens TARGET (created or truncated) with share mode 0, writes the first half of SOURCE,
 * prints "holding" and waits MILLISECONDS, writes the rest and closes it. While it holds
 * the file, any other open of TARGET fails with ERROR_SHARING_VIOLATION. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

int wmain(int argc, wchar_t **argv) {
    if (argc != 4) {
        fwprintf(stderr, L"usage: hold-open.exe TARGET SOURCE MILLISECONDS\n");
        return 2;
    }
    HANDLE source = CreateFileW(argv[2], GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
    if (source == INVALID_HANDLE_VALUE) {
        fwprintf(stderr, L"cannot open the source (error %lu)\n", GetLastError());
        return 1;
    }
    DWORD size = GetFileSize(source, NULL), got = 0;
    char *bytes = malloc(size ? size : 1);
    if (!ReadFile(source, bytes, size, &got, NULL) || got != size) {
        fwprintf(stderr, L"cannot read the source (error %lu)\n", GetLastError());
        return 1;
    }
    CloseHandle(source);
    HANDLE target = CreateFileW(argv[1], GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
    if (target == INVALID_HANDLE_VALUE) {
        fwprintf(stderr, L"cannot create the target (error %lu)\n", GetLastError());
        return 1;
    }
    DWORD half = size / 2, wrote = 0;
    WriteFile(target, bytes, half, &wrote, NULL);
    FlushFileBuffers(target);
    printf("holding\n");
    fflush(stdout);
    Sleep((DWORD)_wtoi(argv[3]));
    WriteFile(target, bytes + half, size - half, &wrote, NULL);
    CloseHandle(target);
    printf("closed\n");
    fflush(stdout);
    return 0;
}
