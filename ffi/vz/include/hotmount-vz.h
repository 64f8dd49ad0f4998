/*
 * hotmount-vz: the flat C ABI between hotmount (bun:ffi, ffi/vz.ts) and Apple's
 * Virtualization.framework. Two things implement it:
 *   - ffi/vz/src/hm-vz-*.m       the real dylib (macOS 12+), built by scripts/build-dylib;
 *   - ffi/vz/testdouble/ (C)    a Linux TEST DOUBLE with no VM behind it, for the bun:ffi tests;
 *   - nothing else. Change this file, bump HM_VZ_ABI_VERSION and ffi/vz.ts together.
 *
 * Rules every function keeps, so JavaScript never sees a foreign thread:
 *   - it runs its VZ work on the VM's own serial dispatch queue and blocks the caller until that
 *     work is done or timeout_ms passes (then it returns HM_VZ_ETIMEDOUT; the work may still finish);
 *   - it never calls back into the caller;
 *   - on failure it returns a negative HM_VZ_E* code (or NULL) and sets the calling thread's last
 *     error, which hm_vz_last_error() returns until the next call on that thread.
 */
#ifndef HOTMOUNT_VZ_H
#define HOTMOUNT_VZ_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HM_VZ_ABI_VERSION 1

/* Return codes (int32_t). Non-negative values are results. */
#define HM_VZ_OK 0
#define HM_VZ_EFAIL (-1)        /* VZ refused; the last error says why */
#define HM_VZ_ETIMEDOUT (-2)    /* the queue did not finish in timeout_ms */
#define HM_VZ_EINVAL (-3)       /* bad argument or config (index, path, JSON) */
#define HM_VZ_ESTATE (-4)       /* not allowed in the VM's current state */
#define HM_VZ_EUNSUPPORTED (-5) /* this macOS lacks the API, or VZ is unavailable */

/* VM states, our own numbering (VZVirtualMachineState values are mapped, never passed through). */
#define HM_VZ_STATE_STOPPED 0
#define HM_VZ_STATE_RUNNING 1
#define HM_VZ_STATE_PAUSED 2
#define HM_VZ_STATE_ERROR 3
#define HM_VZ_STATE_STARTING 4
#define HM_VZ_STATE_PAUSING 5
#define HM_VZ_STATE_RESUMING 6
#define HM_VZ_STATE_STOPPING 7
#define HM_VZ_STATE_UNKNOWN 8 /* anything newer (saving, restoring, ...) */

/* Spare virtio-fs devices carry the tags HM_VZ_SPARE_TAG_PREFIX "0" .. "N-1". */
#define HM_VZ_SPARE_TAG_PREFIX "hotmount-"

/* Both implementations build with -fvisibility=hidden: only the ABI below is exported. */
#define HM_VZ_EXPORT __attribute__((visibility("default")))

typedef struct hm_vz_vm hm_vz_vm;

HM_VZ_EXPORT int32_t hm_vz_abi_version(void);
/* 1 when this Mac can run VZ VMs (VZVirtualMachine.isSupported on macOS 12+), else 0. */
HM_VZ_EXPORT int32_t hm_vz_is_supported(void);
/* The calling thread's last error; "" when none. Valid until the next hm_vz_* call on this thread. */
HM_VZ_EXPORT const char *hm_vz_last_error(void);

/*
 * Builds and validates a Linux VM from a JSON config (UTF-8), without starting it. Schema
 * (ffi/vz.ts VzVmConfig is the source of truth):
 *   { "cpus": int, "memoryMiB": int,
 *     "boot": { "kind": "linux", "kernel": path, "initrd": path?, "cmdline": string }
 *           | { "kind": "efi", "variableStore": path },            (EFI needs macOS 13)
 *     "disks": [ { "path": path, "readOnly": bool } ],
 *     "network": { "mac": "xx:xx:xx:xx:xx:xx" } | null,          (NAT)
 *     "serialLog": path | null, "vsock": bool,
 *     "placeholder": path of an empty directory, "spareShares": int (0..64),
 *     "staticShares": [ { "tag": string, "path": path, "readOnly": bool } ] }
 * On success stores the new handle in *out and returns HM_VZ_OK; otherwise *out is NULL and the
 * code is HM_VZ_EINVAL (bad config), HM_VZ_EUNSUPPORTED (this Mac or macOS cannot) or HM_VZ_EFAIL.
 */
HM_VZ_EXPORT int32_t hm_vz_create(const char *config_json, hm_vz_vm **out, int32_t timeout_ms);
/* Frees the handle; stops the VM hard first (bounded) if it still runs. NULL is ignored. */
HM_VZ_EXPORT void hm_vz_free(hm_vz_vm *vm);

HM_VZ_EXPORT int32_t hm_vz_start(hm_vz_vm *vm, int32_t timeout_ms);
/* Asks the guest to power off (ACPI-style request); returns once the request is sent. */
HM_VZ_EXPORT int32_t hm_vz_request_stop(hm_vz_vm *vm, int32_t timeout_ms);
/* Stops the VM at once, like pulling the plug (macOS 12). */
HM_VZ_EXPORT int32_t hm_vz_stop(hm_vz_vm *vm, int32_t timeout_ms);
/* Returns an HM_VZ_STATE_*; when the VM stopped on its own, the last error says why (else ""). */
HM_VZ_EXPORT int32_t hm_vz_state(hm_vz_vm *vm, int32_t timeout_ms);

/* Number of spare virtio-fs devices (fixed at create). */
HM_VZ_EXPORT int32_t hm_vz_share_count(hm_vz_vm *vm);
/* Points spare device `index` at the host directory `path`; the guest sees it on its next mount. */
HM_VZ_EXPORT int32_t hm_vz_set_share(hm_vz_vm *vm, int32_t index, const char *path, int32_t read_only, int32_t timeout_ms);
/* Points spare device `index` back at the empty read-only placeholder. */
HM_VZ_EXPORT int32_t hm_vz_clear_share(hm_vz_vm *vm, int32_t index, int32_t timeout_ms);
/*
 * Writes the host path spare device `index` shares now into buf (NUL-terminated, "" for the
 * placeholder) and *read_only; returns the path's length in bytes, or a negative code.
 * HM_VZ_EINVAL when buf is too small.
 */
HM_VZ_EXPORT int32_t hm_vz_get_share(hm_vz_vm *vm, int32_t index, char *buf, int32_t buf_len, int32_t *read_only, int32_t timeout_ms);

/* Connects to a guest vsock port; returns a new file descriptor the caller owns, or a negative code. */
HM_VZ_EXPORT int32_t hm_vz_vsock_connect(hm_vz_vm *vm, uint32_t port, int32_t timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
