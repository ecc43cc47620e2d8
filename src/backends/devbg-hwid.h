/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Windows-style hardware IDs, container IDs and stable keys for real
 * devices, built from numbers the udev backend reads from sysfs. Pure
 * functions: no I/O, unit-tested in tests/unit/test-hwid.c.
 *
 * The IDs are spelled exactly as Windows' USB and HID bus drivers spell
 * them (upper-case hex, four digits for VID/PID/REV, two for classes and
 * interface numbers), so device metadata written for Windows matches
 * unchanged. Each list is ordered most specific first: the hardware IDs,
 * then the compatible IDs.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint16  vid, pid, rev;            /* idVendor, idProduct, bcdDevice */
  guint8   dev_class, dev_subclass, dev_protocol;
  guint    num_interfaces;           /* bNumInterfaces of the active configuration */
  /* The function: -1 for the whole device, else the interface number. */
  int      interface_number;
  /* The interface's class triple; for the whole device, interface 0's
   * (used when a single-interface device has class 0). */
  guint8   if_class, if_subclass, if_protocol;
} DevbgUsbIds;

/* USB\VID_v&PID_p&REV_r, USB\VID_v&PID_p (with &MI_nn for an interface of a
 * composite device), then USB\Class_cc&SubClass_ss&Prot_pp, ..., or for a
 * composite device USB\DevClass_00&SubClass_00&Prot_00, ..., USB\COMPOSITE. */
GStrv    devbg_hwid_usb (const DevbgUsbIds *ids);

/* For an MTP device: its USB IDs and USB\MS_COMP_MTP, the compatible ID
 * Windows' MTP driver binds to. */
GStrv    devbg_hwid_mtp (const DevbgUsbIds *ids);

typedef struct {
  guint16  vid, pid;
  gboolean have_rev;                 /* a USB HID device: bcdDevice is known */
  guint16  rev;
  int      interface_number;         /* -1 unless an interface of a composite USB device */
  gboolean have_usage;               /* the top-level collection's usage is known */
  guint16  usage_page, usage;
} DevbgHidIds;

/* HID\VID_v&PID_p&REV_r&MI_nn, HID\VID_v&PID_p&MI_nn, HID\VID_v&PID_p&REV_r,
 * HID\VID_v&PID_p, HID\VID_v&UP:uuuu_U:uuuu, HID_DEVICE_SYSTEM_MOUSE (or
 * _KEYBOARD, _GAME), HID_DEVICE_UP:uuuu_U:uuuu, HID_DEVICE. */
GStrv    devbg_hwid_hid (const DevbgHidIds *ids);

/* The usage page and usage of the first top-level collection of a HID
 * report descriptor (the sysfs report_descriptor attribute). FALSE when
 * the descriptor has no application collection or is malformed. */
gboolean devbg_hwid_hid_top_usage (const guint8 *descriptor, gsize length,
                                   guint16 *usage_page, guint16 *usage);

/* "0003:00001209:0000B0A1.0001" (a hid device's sysfs name) or
 * "0003:00001209:0000B0A1" (its HID_ID property): bus, vendor, product. */
gboolean devbg_hwid_parse_hid_id (const char *text, guint16 *bus, guint16 *vid, guint16 *pid);

/* A container ID: a name-based (version 5) UUID in lower case without
 * braces, from @identity (a physical device's vendor, product family and
 * serial number or port). The same identity always gives the same ID, so
 * every function of one device, and the device after a replug, share it. */
char    *devbg_hwid_container_id (const char *identity);

/* The identity of one physical USB device: what survives a replug, a reset
 * and (with @family set) a re-enumeration with another product ID:
 * "1209-B0A1-sSERIAL", or "1209-dock-p1-2.3" by port when it has no serial.
 * @family: the vendor's name for a set of product IDs that are one device
 * (DEVBG_FAMILY from hwdb or a udev rule); NULL to use the product ID. */
char    *devbg_hwid_usb_identity (guint16 vid, guint16 pid, const char *family,
                                  const char *serial, const char *port_path);

/* "USB\VID_1209&PID_D0C1" for any USB hardware ID of that device
 * ("usb\vid_1209&pid_d0c1&rev_0100" too), NULL for other IDs. */
char    *devbg_hwid_usb_product (const char *hardware_id);

/* The family a vendor's device metadata makes of the USB products it lists:
 * "md-" and the first group of its model ID, else of its file's name. NULL
 * unless @hardware_ids name two products or more (a device and its
 * bootloader): one product alone says nothing about belonging together. */
char    *devbg_hwid_metadata_family (const char *model_id, const char *origin,
                                     const char *const *hardware_ids);

G_END_DECLS
