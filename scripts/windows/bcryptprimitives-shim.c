/* Test aid for Wine 8 only, never shipped: Rust's std imports ProcessPrng from
 * bcryptprimitives.dll, which Wine 8 lacks (real Windows 10/11 has it). This stand-in fills
 * the buffer from RtlGenRandom (SystemFunction036 in advapi32). Built by scripts/windows.sh
 * beside the test copy of kendrix.exe. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
