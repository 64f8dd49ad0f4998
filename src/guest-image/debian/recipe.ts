// What goes into the Debian guest image, as data: the suite, the packages, the files written
// into the root filesystem and the units masked. The cache key hashes all of it (plus
// RECIPE_VERSION for changes to the build steps), never the mirror: any mirror gives the same image.
import { createHash } from "node:crypto";
import { READY_MARKER } from "../contract.ts";

/** Bump when build.ts changes in a way the data below does not show. */
export const DEBIAN_RECIPE_VERSION = 1;
export const DEBIAN_SUITE = "bookworm";
export const DEBIAN_VARIANT = "minbase";

/** The sparse size of the root filesystem; the qcow2 only stores what is used (~0.7 GB). */
export const DEBIAN_DISK_BYTES = 4 * 1024 ** 3;
export const DEBIAN_FS_LABEL = "root";

export interface DebianPackage {
  name: string;
  why: string;
}

export const DEBIAN_PACKAGES: readonly DebianPackage[] = [
  { name: "linux-image-amd64", why: "the kernel hotmount boots directly (-kernel), with its modules" },
  { name: "initramfs-tools", why: "builds the initrd that finds /dev/vda (virtio_blk) at boot" },
  { name: "systemd", why: "the init system real guests run" },
  { name: "systemd-sysv", why: "/sbin/init, poweroff, reboot" },
  { name: "udev", why: "loads drivers for hot-plugged virtio devices and names the NIC" },
  { name: "dbus", why: "systemd's and logind's bus" },
  { name: "kmod", why: "modprobe for 9p, virtiofs and fuse" },
  { name: "iproute2", why: "ip, used by ifupdown and dhclient-script" },
  { name: "ifupdown", why: "brings up the DHCP interface cloud-init's fallback network config names" },
  { name: "isc-dhcp-client", why: "DHCP on QEMU's user network" },
  { name: "netbase", why: "/etc/services and /etc/protocols" },
  { name: "openssh-server", why: "the SSH server hotmount logs into as the non-root user" },
  { name: "sshfs", why: "reverse-sshfs mounts" },
  { name: "sudo", why: "hotmount runs mount/umount as root through sudo -n" },
  { name: "qemu-guest-agent", why: "guest commands as argv arrays over virtio-serial" },
  { name: "cloud-init", why: "reads the NoCloud seed: the user, its SSH key, passwordless sudo" },
  // debootstrap does not resolve the virtual python3-cffi-backend-api-min; without the real
  // package cloud-init's dependencies (cryptography) fail to configure.
  { name: "python3-cffi-backend", why: "a dependency debootstrap cannot resolve by itself" },
  { name: "procps", why: "ps, pkill, sysctl" },
  { name: "psmisc", why: "fuser: which guest processes hold a mount" },
  { name: "inotify-tools", why: "inotifywait: the file watcher dev tools build on, for seeing host edits wake the guest" },
];

/** Timers and services that wake up under TCG for minutes of CPU and do nothing useful here. */
export const MASKED_UNITS = [
  "apt-daily.timer",
  "apt-daily-upgrade.timer",
  "dpkg-db-backup.timer",
  "e2scrub_all.timer",
  "e2scrub_reap.service",
  "fstrim.timer",
  "man-db.timer",
];

/**
 * cloud-init modules taken out of the image's /etc/cloud/cloud.cfg. locale: minbase has no
 * locales package, so update-locale fails and the module with it (user-data "locale: false"
 * would skip it too, but cloud-init's schema check then warns on every boot).
 */
export const CLOUD_INIT_DROP_MODULES = ["locale"];

/** Units enabled in the image (unit → the target that wants it). */
export const ENABLED_UNITS: Record<string, string> = { "hotmount-ready.service": "multi-user.target" };

/** Removed from the root filesystem: documentation, caches, identity that must be per instance. */
export const PRUNE_PATHS = [
  "usr/share/doc",
  "usr/share/man",
  "usr/share/info",
  "usr/share/lintian",
  "usr/share/bug",
  "var/cache/apt",
  "var/lib/apt/lists",
  "var/log/bootstrap.log",
  "debootstrap",
  // Per machine: systemd makes a machine id at first boot, cloud-init the SSH host keys.
  "var/lib/dbus/machine-id",
  "etc/ssh/ssh_host_*",
  // The build host's resolver and hostname must not leak into the image.
  "etc/resolv.conf",
];

/** Files written into the root filesystem (path → content); mode 0644, owner root. */
export function debianImageFiles(): Record<string, string> {
  return {
    // An empty machine-id means "first boot": systemd generates one (an absent file would too,
    // but some tools expect it to exist).
    "etc/machine-id": "",
    "etc/hostname": "hotmount\n",
    "etc/hosts": "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n",
    "etc/fstab": `LABEL=${DEBIAN_FS_LABEL}\t/\text4\trw,errors=remount-ro\t0\t0\n`,
    "etc/network/interfaces":
      "# cloud-init writes the DHCP interface into interfaces.d\nauto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n",
    // udev loads a driver for every device it finds, and udevadm settle (ifupdown-pre) waits for
    // all of them before the network comes up: under TCG these cost ~10 s of a loaded boot and
    // drive nothing a hotmount guest has (-cpu max offers SVM/VMX, so kvm would load too).
    "etc/modprobe.d/hotmount.conf": [
      "# hotmount: drivers a guest under QEMU has no use for",
      ...["kvm", "kvm_amd", "kvm_intel", "iTCO_wdt", "iTCO_vendor_support", "pcspkr", "powernow_k8", "acpi_cpufreq", "joydev", "serio_raw"].map(
        (m) => `blacklist ${m}`,
      ),
      "",
    ].join("\n"),
    // Only the seed: cloud-init's default list probes network metadata services for minutes.
    "etc/cloud/cloud.cfg.d/90-hotmount.cfg": "# hotmount: read the NoCloud seed ISO (volume id cidata) only\ndatasource_list: [NoCloud, None]\n",
    // The boot-complete signal the QEMU driver waits for, as soon as the host can log in: sshd
    // listens (Type=notify) and cloud-init's init stage has made the user, its key and its sudo
    // rule. Waiting for cloud-init's final_message instead (which the seed also sets, for other
    // cloud-init images) costs the config and final stages: 4 s on an idle machine, 45 s under load.
    "etc/systemd/system/hotmount-ready.service": [
      "[Unit]",
      "Description=hotmount: tell the host on the console that SSH is ready",
      "After=ssh.service cloud-init.service",
      "",
      "[Service]",
      "Type=oneshot",
      `ExecStart=/bin/sh -c 'echo ${READY_MARKER} >/dev/console'`,
      "",
      "[Install]",
      "WantedBy=multi-user.target",
      "",
    ].join("\n"),
  };
}

/** Everything that decides the image's content. */
export function debianRecipe(): Record<string, unknown> {
  return {
    version: DEBIAN_RECIPE_VERSION,
    suite: DEBIAN_SUITE,
    variant: DEBIAN_VARIANT,
    packages: DEBIAN_PACKAGES.map((p) => p.name),
    masked: MASKED_UNITS,
    enabled: ENABLED_UNITS,
    cloudInitDrop: CLOUD_INIT_DROP_MODULES,
    prune: PRUNE_PATHS,
    files: debianImageFiles(),
    disk: { bytes: DEBIAN_DISK_BYTES, label: DEBIAN_FS_LABEL },
  };
}

export function debianRecipeKey(): string {
  return createHash("sha256").update(JSON.stringify(debianRecipe())).digest("hex");
}
