/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Windows-style hardware IDs, HID report descriptors, container IDs and
 * stable identities (src/backends/devbg-hwid.h), as Windows' USB and HID
 * bus drivers would spell them.
 */
#include <string.h>

#include "devbg-hwid.h"

static void
assert_ids (GStrv ids, const char *const *expected)
{
  g_autofree char *got = g_strjoinv ("\n", ids);
  g_autofree char *want = g_strjoinv ("\n", (char **) expected);

  g_assert_cmpstr (got, ==, want);
  g_strfreev (ids);
}

static void
test_usb_single_function (void)
{
  /* A HID band: device class 0, its one interface is HID. */
  DevbgUsbIds band = { .vid = 0x1209, .pid = 0xB0A1, .rev = 0x0100, .num_interfaces = 1,
                       .interface_number = -1, .if_class = 0x03 };
  const char *const band_ids[] = { "USB\\VID_1209&PID_B0A1&REV_0100", "USB\\VID_1209&PID_B0A1",
                                   "USB\\Class_03&SubClass_00&Prot_00",
                                   "USB\\Class_03&SubClass_00", "USB\\Class_03", NULL };
  /* A vendor-class device takes its own class, not the interface's. */
  DevbgUsbIds vendor = { .vid = 0xabcd, .pid = 0x00ef, .rev = 0x1234, .dev_class = 0xff,
                         .dev_subclass = 0x01, .dev_protocol = 0x02, .num_interfaces = 1,
                         .interface_number = -1, .if_class = 0x03 };
  const char *const vendor_ids[] = { "USB\\VID_ABCD&PID_00EF&REV_1234", "USB\\VID_ABCD&PID_00EF",
                                     "USB\\Class_FF&SubClass_01&Prot_02",
                                     "USB\\Class_FF&SubClass_01", "USB\\Class_FF", NULL };
  /* The interface of a single-function device has the device's IDs: no MI. */
  DevbgUsbIds serial = { .vid = 0x0403, .pid = 0x6001, .rev = 0x0600, .num_interfaces = 1,
                         .interface_number = 0, .if_class = 0xff, .if_subclass = 0xff,
                         .if_protocol = 0xff };
  const char *const serial_ids[] = { "USB\\VID_0403&PID_6001&REV_0600", "USB\\VID_0403&PID_6001",
                                     "USB\\Class_FF&SubClass_FF&Prot_FF",
                                     "USB\\Class_FF&SubClass_FF", "USB\\Class_FF", NULL };

  assert_ids (devbg_hwid_usb (&band), band_ids);
  assert_ids (devbg_hwid_usb (&vendor), vendor_ids);
  assert_ids (devbg_hwid_usb (&serial), serial_ids);
}

static void
test_usb_composite (void)
{
  DevbgUsbIds dev = { .vid = 0x1209, .pid = 0xC0C0, .rev = 0x0203, .dev_class = 0xef,
                      .dev_subclass = 0x02, .dev_protocol = 0x01, .num_interfaces = 4,
                      .interface_number = -1, .if_class = 0x03 };
  const char *const dev_ids[] = { "USB\\VID_1209&PID_C0C0&REV_0203", "USB\\VID_1209&PID_C0C0",
                                  "USB\\DevClass_EF&SubClass_02&Prot_01",
                                  "USB\\DevClass_EF&SubClass_02", "USB\\DevClass_EF",
                                  "USB\\COMPOSITE", NULL };
  DevbgUsbIds acm = dev;
  const char *const acm_ids[] = { "USB\\VID_1209&PID_C0C0&REV_0203&MI_01",
                                  "USB\\VID_1209&PID_C0C0&MI_01",
                                  "USB\\Class_02&SubClass_02&Prot_01",
                                  "USB\\Class_02&SubClass_02", "USB\\Class_02", NULL };
  /* Class 0 with two interfaces is composite too. */
  DevbgUsbIds two = { .vid = 0x1, .pid = 0x2, .rev = 0x3, .num_interfaces = 2,
                      .interface_number = -1 };
  g_auto(GStrv) two_ids = devbg_hwid_usb (&two);

  acm.interface_number = 1;
  acm.if_class = 0x02;
  acm.if_subclass = 0x02;
  acm.if_protocol = 0x01;
  assert_ids (devbg_hwid_usb (&dev), dev_ids);
  assert_ids (devbg_hwid_usb (&acm), acm_ids);
  g_assert_cmpstr (two_ids[g_strv_length (two_ids) - 1], ==, "USB\\COMPOSITE");
  g_assert_cmpstr (two_ids[2], ==, "USB\\DevClass_00&SubClass_00&Prot_00");
}

static void
test_mtp (void)
{
  DevbgUsbIds phone = { .vid = 0x18d1, .pid = 0x4ee1, .rev = 0x0100, .num_interfaces = 1,
                        .interface_number = -1, .if_class = 0x06, .if_subclass = 0x01,
                        .if_protocol = 0x01 };
  const char *const ids[] = { "USB\\VID_18D1&PID_4EE1&REV_0100", "USB\\VID_18D1&PID_4EE1",
                              "USB\\Class_06&SubClass_01&Prot_01", "USB\\Class_06&SubClass_01",
                              "USB\\Class_06", "USB\\MS_COMP_MTP", NULL };

  assert_ids (devbg_hwid_mtp (&phone), ids);
}

static void
test_hid (void)
{
  DevbgHidIds band = { .vid = 0x1209, .pid = 0xB0A1, .have_rev = TRUE, .rev = 0x0100,
                       .interface_number = -1, .have_usage = TRUE, .usage_page = 0xff00,
                       .usage = 0x0001 };
  const char *const band_ids[] = { "HID\\VID_1209&PID_B0A1&REV_0100", "HID\\VID_1209&PID_B0A1",
                                   "HID\\VID_1209&UP:FF00_U:0001", "HID_DEVICE_UP:FF00_U:0001",
                                   "HID_DEVICE", NULL };
  /* A keyboard on interface 0 of a composite device (Windows' own example). */
  DevbgHidIds kbd = { .vid = 0x045e, .pid = 0x0745, .have_rev = TRUE, .rev = 0x0654,
                      .interface_number = 0, .have_usage = TRUE, .usage_page = 0x01,
                      .usage = 0x06 };
  const char *const kbd_ids[] = { "HID\\VID_045E&PID_0745&REV_0654&MI_00",
                                  "HID\\VID_045E&PID_0745&MI_00",
                                  "HID\\VID_045E&PID_0745&REV_0654", "HID\\VID_045E&PID_0745",
                                  "HID\\VID_045E&UP:0001_U:0006", "HID_DEVICE_SYSTEM_KEYBOARD",
                                  "HID_DEVICE_UP:0001_U:0006", "HID_DEVICE", NULL };
  /* Off USB (Bluetooth): no revision, and no usage when unreadable. */
  DevbgHidIds bt = { .vid = 0x046d, .pid = 0xb33a, .interface_number = -1 };
  const char *const bt_ids[] = { "HID\\VID_046D&PID_B33A", "HID_DEVICE", NULL };

  assert_ids (devbg_hwid_hid (&band), band_ids);
  assert_ids (devbg_hwid_hid (&kbd), kbd_ids);
  assert_ids (devbg_hwid_hid (&bt), bt_ids);
}

static void
test_hid_top_usage (void)
{
  static const guint8 vendor[] = { 0x06, 0x00, 0xff, 0x09, 0x01, 0xa1, 0x01, 0x15, 0x00, 0xc0 };
  static const guint8 keyboard[] = { 0x05, 0x01, 0x09, 0x06, 0xa1, 0x01, 0x05, 0x07, 0xc0 };
  /* A 4-byte usage carries its own page (consumer control, 000C:0001). */
  static const guint8 extended[] = { 0x0b, 0x01, 0x00, 0x0c, 0x00, 0xa1, 0x01, 0xc0 };
  /* A long item first, skipped whole. */
  static const guint8 with_long[] = { 0xfe, 0x02, 0x10, 0xaa, 0xbb, 0x05, 0x01, 0x09, 0x02,
                                      0xa1, 0x01 };
  static const guint8 truncated[] = { 0x06, 0x00 };
  static const guint8 physical_first[] = { 0x05, 0x01, 0x09, 0x01, 0xa1, 0x00 };
  static const guint8 no_usage[] = { 0x05, 0x01, 0xa1, 0x01 };
  guint16 page = 0, usage = 0;

  g_assert_true (devbg_hwid_hid_top_usage (vendor, sizeof vendor, &page, &usage));
  g_assert_cmphex (page, ==, 0xff00);
  g_assert_cmphex (usage, ==, 0x0001);
  g_assert_true (devbg_hwid_hid_top_usage (keyboard, sizeof keyboard, &page, &usage));
  g_assert_cmphex (page, ==, 0x0001);
  g_assert_cmphex (usage, ==, 0x0006);
  g_assert_true (devbg_hwid_hid_top_usage (extended, sizeof extended, &page, &usage));
  g_assert_cmphex (page, ==, 0x000c);
  g_assert_cmphex (usage, ==, 0x0001);
  g_assert_true (devbg_hwid_hid_top_usage (with_long, sizeof with_long, &page, &usage));
  g_assert_cmphex (usage, ==, 0x0002);
  g_assert_false (devbg_hwid_hid_top_usage (truncated, sizeof truncated, &page, &usage));
  g_assert_false (devbg_hwid_hid_top_usage (physical_first, sizeof physical_first, &page, &usage));
  g_assert_false (devbg_hwid_hid_top_usage (no_usage, sizeof no_usage, &page, &usage));
  g_assert_false (devbg_hwid_hid_top_usage (NULL, 0, &page, &usage));
}

static void
test_parse_hid_id (void)
{
  guint16 bus, vid, pid;

  g_assert_true (devbg_hwid_parse_hid_id ("0003:00001209:0000B0A1.0001", &bus, &vid, &pid));
  g_assert_cmphex (bus, ==, 3);
  g_assert_cmphex (vid, ==, 0x1209);
  g_assert_cmphex (pid, ==, 0xb0a1);
  g_assert_true (devbg_hwid_parse_hid_id ("0005:0000046D:0000B33A", &bus, &vid, &pid));
  g_assert_cmphex (bus, ==, 5);
  g_assert_cmphex (pid, ==, 0xb33a);
  g_assert_false (devbg_hwid_parse_hid_id ("0003:1209", &bus, &vid, &pid));
  g_assert_false (devbg_hwid_parse_hid_id ("0003:0001FFFF:0001", &bus, &vid, &pid));
  g_assert_false (devbg_hwid_parse_hid_id ("x:y:z", &bus, &vid, &pid));
  g_assert_false (devbg_hwid_parse_hid_id ("0003::0001", &bus, &vid, &pid));
  g_assert_false (devbg_hwid_parse_hid_id ("0003:-1:0001", &bus, &vid, &pid));
  g_assert_false (devbg_hwid_parse_hid_id (NULL, &bus, &vid, &pid));
}

static void
test_container_and_identity (void)
{
  g_autofree char *a = devbg_hwid_container_id ("1209-B0A1-sBAND0001");
  g_autofree char *b = devbg_hwid_container_id ("1209-B0A1-sBAND0001");
  g_autofree char *c = devbg_hwid_container_id ("1209-B0A1-sBAND0002");
  g_autofree char *serial = devbg_hwid_usb_identity (0x1209, 0xb0a1, NULL, "BAND0001", "1-2");
  g_autofree char *family = devbg_hwid_usb_identity (0x1209, 0xd0b0, "devbg-dock", "DOCK", "1-4");
  g_autofree char *family2 = devbg_hwid_usb_identity (0x1209, 0xd0c1, "devbg-dock", "DOCK", "1-9");
  g_autofree char *port = devbg_hwid_usb_identity (0x1209, 0xb0a1, NULL, "", "1-2.3");
  g_autofree char *port_np = devbg_hwid_usb_identity (0x1209, 0xb0a1, NULL, NULL, "1-2.3");

  g_assert_cmpstr (a, ==, b);
  g_assert_cmpstr (a, !=, c);
  g_assert_true (g_uuid_string_is_valid (a));
  g_assert_cmpint (a[14], ==, '5');                /* version 5 */
  g_assert_nonnull (strchr ("89ab", a[19]));       /* RFC 4122 variant */
  g_assert_cmpstr (serial, ==, "1209-B0A1-sBAND0001");
  /* One family: the bootloader's product ID does not change the identity,
   * nor does the port when there is a serial. */
  g_assert_cmpstr (family, ==, family2);
  g_assert_cmpstr (family, ==, "1209-devbg-dock-sDOCK");
  g_assert_cmpstr (port, ==, "1209-B0A1-p1-2.3");
  g_assert_cmpstr (port_np, ==, port);
}

static void
test_metadata_family (void)
{
  const char *const both[] = { "USB\\VID_1209&PID_D0C1&REV_0100", "usb\\vid_1209&pid_d0b0",
                               "HID_DEVICE", NULL };
  const char *const one[] = { "USB\\VID_1209&PID_D0C1&REV_0100", "USB\\VID_1209&PID_D0C1",
                              NULL };
  g_autofree char *p1 = devbg_hwid_usb_product ("usb\\vid_1209&pid_d0c1&rev_0100&mi_00");
  g_autofree char *p2 = devbg_hwid_usb_product ("USB\\VID_1209&PID_D0C1");
  g_autofree char *by_model = devbg_hwid_metadata_family ("5a1d0c11-6a0e-4c47-9d3c-2f1e0b5d0c01",
                                                          "/x/dock.xml", both);
  g_autofree char *by_file = devbg_hwid_metadata_family (NULL, "/usr/share/devbg/metadata/acme dock.xml",
                                                         both);
  g_autofree char *alone = devbg_hwid_metadata_family ("5a1d0c11", "/x/band.xml", one);

  g_assert_cmpstr (p1, ==, "USB\\VID_1209&PID_D0C1");
  g_assert_cmpstr (p2, ==, p1);
  g_assert_null (devbg_hwid_usb_product ("USB\\VID_1209&PID_D0C"));
  g_assert_null (devbg_hwid_usb_product ("USB\\VID_1209&PID_D0C1X"));
  g_assert_null (devbg_hwid_usb_product ("USB\\Class_03"));
  g_assert_null (devbg_hwid_usb_product ("HID\\VID_1209&PID_D0C1"));
  g_assert_null (devbg_hwid_usb_product ("USB\\VID_12G9&PID_D0C1"));
  g_assert_null (devbg_hwid_usb_product (NULL));
  g_assert_cmpstr (by_model, ==, "md-5a1d0c11");
  g_assert_cmpstr (by_file, ==, "md-acme_dock");
  /* One product (two revisions of it) is no family. */
  g_assert_null (alone);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/hwid/usb/single-function", test_usb_single_function);
  g_test_add_func ("/hwid/usb/composite", test_usb_composite);
  g_test_add_func ("/hwid/mtp", test_mtp);
  g_test_add_func ("/hwid/hid", test_hid);
  g_test_add_func ("/hwid/hid-top-usage", test_hid_top_usage);
  g_test_add_func ("/hwid/parse-hid-id", test_parse_hid_id);
  g_test_add_func ("/hwid/container-and-identity", test_container_and_identity);
  g_test_add_func ("/hwid/metadata-family", test_metadata_family);
  return g_test_run ();
}
