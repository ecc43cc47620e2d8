/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The request decision (devbg-decision.c), row by row for both triggers,
 * the combinations whose order matters, and the one list of reasons
 * against the D-Bus XML, libdevbg's header and the README.
 */
#include <string.h>

#include "devbg-decision.h"
#include "devbg-access.h"
#include "devbg-manifest.h"
#include "devbg-power.h"

#include <glib/gstdio.h>

/* Every fact that lets a request through, consent not yet known. */
static DevbgDecisionFacts
passing (DevbgTriggerType trigger)
{
  return (DevbgDecisionFacts) {
    .trigger = trigger,
    .entry_point_declared = TRUE,
    .device_attached = TRUE,
    .protocol = DEVBG_PROTOCOL_USB,
    .device_declared = TRUE,
    .expected_duration_s = trigger == DEVBG_TRIGGER_SERVICING ? 60 : 0,
    .has_metadata = TRUE,
    .privileged = TRUE,
    .device_accessible = TRUE,
    .in_session = TRUE,
    .session_active = TRUE,
    .session_locked = FALSE,
    .power = { .has_battery = TRUE, .level_known = TRUE, .percent = 80, .on_ac = FALSE },
    .consent = DEVBG_CONSENT_GIVEN,
  };
}

static DevbgConfig
defaults (void)
{
  DevbgConfig c;

  devbg_config_init_defaults (&c);
  return c;
}

typedef void (*Breaker) (DevbgDecisionFacts *f);

static void no_entry_point (DevbgDecisionFacts *f) { f->entry_point_declared = FALSE; }
static void detached (DevbgDecisionFacts *f) { f->device_attached = FALSE; }
static void mtp (DevbgDecisionFacts *f) { f->protocol = DEVBG_PROTOCOL_MTP; }
static void unknown_protocol (DevbgDecisionFacts *f) { f->protocol = DEVBG_PROTOCOL_UNKNOWN; }
static void undeclared (DevbgDecisionFacts *f) { f->device_declared = FALSE; }
static void half_hour (DevbgDecisionFacts *f) { f->expected_duration_s = 1800; }
static void no_metadata (DevbgDecisionFacts *f) { f->has_metadata = FALSE; f->privileged = FALSE; }
static void unprivileged (DevbgDecisionFacts *f) { f->privileged = FALSE; }
static void inaccessible (DevbgDecisionFacts *f) { f->device_accessible = FALSE; }
static void no_session (DevbgDecisionFacts *f) { f->in_session = FALSE; f->session_active = FALSE; }
static void inactive (DevbgDecisionFacts *f) { f->session_active = FALSE; }
static void locked (DevbgDecisionFacts *f) { f->session_locked = TRUE; }
static void running (DevbgDecisionFacts *f) { f->app_task_running = TRUE; }
static void asking (DevbgDecisionFacts *f) { f->app_consent_waiting = TRUE; }
static void pending (DevbgDecisionFacts *f) { f->too_many_pending = TRUE; }
static void busy (DevbgDecisionFacts *f) { f->device_busy = TRUE; }
static void battery_33 (DevbgDecisionFacts *f) { f->power.percent = 33; }
static void battery_unknown (DevbgDecisionFacts *f) { f->power.level_known = FALSE; }
static void refused (DevbgDecisionFacts *f) { f->consent = DEVBG_CONSENT_REFUSED; }
static void unavailable (DevbgDecisionFacts *f) { f->consent = DEVBG_CONSENT_UNAVAILABLE; }

typedef struct {
  const char        *name;
  Breaker            breaker;
  DevbgRequestReason use;       /* the verdict for a use request */
  DevbgRequestReason servicing; /* and for a servicing one */
} Row;

/* One row per policy of the seed's table: the fact that breaks it, and the
 * reason each trigger gets (ALLOWED where the row does not apply). */
static const Row rows[] = {
  { "entry-point", no_entry_point, DEVBG_REASON_ENTRY_POINT_NOT_DECLARED, DEVBG_REASON_ENTRY_POINT_NOT_DECLARED },
  { "attached", detached, DEVBG_REASON_NO_SUCH_DEVICE, DEVBG_REASON_NO_SUCH_DEVICE },
  { "protocol-mtp", mtp, DEVBG_REASON_PROTOCOL_NOT_SUPPORTED, DEVBG_REASON_ALLOWED },
  { "protocol-unknown", unknown_protocol, DEVBG_REASON_PROTOCOL_NOT_SUPPORTED, DEVBG_REASON_PROTOCOL_NOT_SUPPORTED },
  { "declared", undeclared, DEVBG_REASON_DEVICE_NOT_DECLARED, DEVBG_REASON_DEVICE_NOT_DECLARED },
  { "estimate", half_hour, DEVBG_REASON_ALLOWED, DEVBG_REASON_ESTIMATE_TOO_LONG },
  { "metadata", no_metadata, DEVBG_REASON_ALLOWED, DEVBG_REASON_NO_DEVICE_METADATA },
  { "privileged", unprivileged, DEVBG_REASON_ALLOWED, DEVBG_REASON_NOT_PRIVILEGED },
  { "accessible", inaccessible, DEVBG_REASON_DEVICE_NOT_ACCESSIBLE, DEVBG_REASON_DEVICE_NOT_ACCESSIBLE },
  { "no-session", no_session, DEVBG_REASON_NOT_FOREGROUND, DEVBG_REASON_NOT_FOREGROUND },
  { "inactive-session", inactive, DEVBG_REASON_NOT_FOREGROUND, DEVBG_REASON_NOT_FOREGROUND },
  { "locked", locked, DEVBG_REASON_SESSION_LOCKED, DEVBG_REASON_SESSION_LOCKED },
  { "one-task", running, DEVBG_REASON_ALREADY_RUNNING, DEVBG_REASON_ALREADY_RUNNING },
  { "one-prompt", asking, DEVBG_REASON_ALREADY_RUNNING, DEVBG_REASON_ALREADY_RUNNING },
  { "pending-events", pending, DEVBG_REASON_TOO_MANY_PENDING_EVENTS, DEVBG_REASON_TOO_MANY_PENDING_EVENTS },
  { "device-busy", busy, DEVBG_REASON_DEVICE_BUSY, DEVBG_REASON_DEVICE_BUSY },
  { "battery-33", battery_33, DEVBG_REASON_ALLOWED, DEVBG_REASON_LOW_BATTERY },
  { "battery-unknown", battery_unknown, DEVBG_REASON_ALLOWED, DEVBG_REASON_LOW_BATTERY },
  { "consent-refused", refused, DEVBG_REASON_DENIED_BY_USER, DEVBG_REASON_DENIED_BY_USER },
  { "consent-unavailable", unavailable, DEVBG_REASON_CONSENT_UNAVAILABLE, DEVBG_REASON_CONSENT_UNAVAILABLE },
};

static void
assert_reason (const DevbgDecisionFacts *f, DevbgRequestReason want)
{
  DevbgConfig config = defaults ();
  DevbgDecision d = devbg_decide (&config, f);
  g_autofree char *why = devbg_decision_explain (&config, f, d);

  g_assert_nonnull (why);
  g_assert_cmpstr (devbg_request_reason_to_string (d.reason), ==,
                   devbg_request_reason_to_string (want));
  g_assert_cmpint (d.result, ==, devbg_request_reason_get_result (want));
  g_assert_cmpint (d.kind, ==, want == DEVBG_REASON_ALLOWED ? DEVBG_DECISION_ALLOW
                                                            : DEVBG_DECISION_DENY);
}

static void
test_row (gconstpointer data)
{
  const Row *row = data;
  DevbgDecisionFacts use = passing (DEVBG_TRIGGER_USE);
  DevbgDecisionFacts servicing = passing (DEVBG_TRIGGER_SERVICING);

  row->breaker (&use);
  row->breaker (&servicing);
  assert_reason (&use, row->use);
  assert_reason (&servicing, row->servicing);
}

static void
test_all_pass (void)
{
  DevbgDecisionFacts use = passing (DEVBG_TRIGGER_USE);
  DevbgDecisionFacts servicing = passing (DEVBG_TRIGGER_SERVICING);

  assert_reason (&use, DEVBG_REASON_ALLOWED);
  assert_reason (&servicing, DEVBG_REASON_ALLOWED);
}

/* Each pair: the first row in the documented order wins, whatever else
 * fails too. */
static void
test_order (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (rows); i++)
    for (gsize j = i + 1; j < G_N_ELEMENTS (rows); j++)
      for (int t = DEVBG_TRIGGER_USE; t <= DEVBG_TRIGGER_SERVICING; t++)
        {
          DevbgDecisionFacts f = passing (t);
          DevbgRequestReason first_i = t == DEVBG_TRIGGER_USE ? rows[i].use : rows[i].servicing;
          DevbgRequestReason first_j = t == DEVBG_TRIGGER_USE ? rows[j].use : rows[j].servicing;

          /* Both set the consent answer: the second would overwrite it. */
          if (rows[i].breaker == refused && rows[j].breaker == unavailable)
            continue;
          rows[i].breaker (&f);
          rows[j].breaker (&f);
          if (g_test_verbose ())
            g_test_message ("%s + %s (%s)", rows[i].name, rows[j].name,
                            devbg_trigger_type_to_string (t));
          assert_reason (&f, first_i != DEVBG_REASON_ALLOWED ? first_i : first_j);
        }
}

/* Consent is asked last: a request refused by any other row never asks. */
static void
test_consent_last (void)
{
  DevbgConfig config = defaults ();

  for (gsize i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      DevbgDecisionFacts f = passing (DEVBG_TRIGGER_SERVICING);
      DevbgDecision d;

      rows[i].breaker (&f);
      f.consent = DEVBG_CONSENT_NOT_ASKED;
      d = devbg_decide (&config, &f);
      if (rows[i].servicing == DEVBG_REASON_ALLOWED || rows[i].breaker == refused ||
          rows[i].breaker == unavailable)
        g_assert_cmpint (d.kind, ==, DEVBG_DECISION_ASK_CONSENT);
      else
        g_assert_cmpint (d.kind, ==, DEVBG_DECISION_DENY);
    }
}

static void
test_consent_use_stored (void)
{
  DevbgConfig config = defaults ();
  DevbgDecisionFacts f = passing (DEVBG_TRIGGER_USE);

  f.consent = DEVBG_CONSENT_NOT_ASKED;
  g_assert_cmpint (devbg_decide (&config, &f).kind, ==, DEVBG_DECISION_ASK_CONSENT);
  f.consent_stored = TRUE;
  g_assert_cmpint (devbg_decide (&config, &f).kind, ==, DEVBG_DECISION_ALLOW);
}

/* Servicing consent is asked every time, stored or not. */
static void
test_consent_servicing_every_time (void)
{
  DevbgConfig config = defaults ();
  DevbgDecisionFacts f = passing (DEVBG_TRIGGER_SERVICING);

  f.consent = DEVBG_CONSENT_NOT_ASKED;
  f.consent_stored = TRUE;
  g_assert_cmpint (devbg_decide (&config, &f).kind, ==, DEVBG_DECISION_ASK_CONSENT);
}

static void
test_power (void)
{
  DevbgConfig config = defaults ();
  DevbgDecisionFacts f = passing (DEVBG_TRIGGER_SERVICING);

  f.power = (DevbgPowerFacts) { .has_battery = TRUE, .level_known = TRUE, .percent = 33 };
  assert_reason (&f, DEVBG_REASON_LOW_BATTERY);
  f.power.percent = 34;
  assert_reason (&f, DEVBG_REASON_ALLOWED);
  f.power = (DevbgPowerFacts) { .has_battery = TRUE, .level_known = TRUE, .percent = 5, .on_ac = TRUE };
  assert_reason (&f, DEVBG_REASON_ALLOWED);
  /* No system battery at all: a machine on mains. */
  f.power = (DevbgPowerFacts) { .has_battery = FALSE };
  assert_reason (&f, DEVBG_REASON_ALLOWED);
  /* A battery of unknown level on battery power: refused. */
  f.power = (DevbgPowerFacts) { .has_battery = TRUE, .level_known = FALSE };
  assert_reason (&f, DEVBG_REASON_LOW_BATTERY);
  /* MinBatteryPercent is configurable. */
  config.min_battery_percent = 50;
  f.power = (DevbgPowerFacts) { .has_battery = TRUE, .level_known = TRUE, .percent = 40 };
  g_assert_false (devbg_decision_power_ok (&config, &f.power));
}

/* RequireForeground=false: the session rows do not apply. */
static void
test_foreground_not_required (void)
{
  DevbgConfig config = defaults ();
  DevbgDecisionFacts f = passing (DEVBG_TRIGGER_USE);

  no_session (&f);
  config.require_foreground = FALSE;
  g_assert_cmpint (devbg_decide (&config, &f).kind, ==, DEVBG_DECISION_ALLOW);
  f = passing (DEVBG_TRIGGER_USE);
  locked (&f);
  g_assert_cmpint (devbg_decide (&config, &f).kind, ==, DEVBG_DECISION_ALLOW);
}

/* A narrowed protocol list applies to the decision. */
static void
test_protocols_narrowed (void)
{
  DevbgConfig config = defaults ();
  DevbgDecisionFacts f = passing (DEVBG_TRIGGER_USE);

  config.use_protocols = 1u << DEVBG_PROTOCOL_HID;
  g_assert_cmpint (devbg_decide (&config, &f).reason, ==, DEVBG_REASON_PROTOCOL_NOT_SUPPORTED);
}

/* Part 8: a config may narrow the seed's protocol table, never widen it;
 * one that tries is refused naming the key, and changes nothing. */
static void
test_config_protocols (void)
{
  static const char *const widening[] = {
    "[Policy]\nUseProtocols=usb;mtp\n",
    "[Policy]\nUseProtocols=network-wifi\n",
    "[Policy]\nUseProtocols=generic-ioctl;hid\n",
  };
  DevbgConfig config = defaults ();
  DevbgConfig before = config;
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (widening); i++)
    {
      g_clear_error (&error);
      g_assert_false (devbg_config_load_data (&config, widening[i], -1, "test.conf", &error));
      g_assert_nonnull (strstr (error->message, "[Policy] UseProtocols="));
      g_assert_nonnull (strstr (error->message, "not widen"));
      g_assert_cmpmem (&config, sizeof config, &before, sizeof before);
    }
  g_clear_error (&error);
  g_assert_true (devbg_config_load_data (&config, "[Policy]\nUseProtocols=hid\n"
                                         "ServicingProtocols=usb;mtp\n", -1, "test.conf", &error));
  g_assert_no_error (error);
  g_assert_false (devbg_config_protocol_allowed (&config, DEVBG_TRIGGER_USE, DEVBG_PROTOCOL_USB));
  g_assert_true (devbg_config_protocol_allowed (&config, DEVBG_TRIGGER_USE, DEVBG_PROTOCOL_HID));
  g_assert_false (devbg_config_protocol_allowed (&config, DEVBG_TRIGGER_SERVICING, DEVBG_PROTOCOL_HID));
  g_assert_true (devbg_config_protocol_allowed (&config, DEVBG_TRIGGER_SERVICING, DEVBG_PROTOCOL_MTP));
}

/* Part 7: the devices a manifest declares, in Windows' syntax, against
 * the hardware IDs a backend reports. */
static void
test_declared_devices (void)
{
  static const char xml[] =
    "<Application Id=\"org.example.App\" Executable=\"/usr/bin/app\">"
    "<Extensions><Extension Category=\"windows.backgroundTasks\" EntryPoint=\"A.Sync\">"
    "<BackgroundTasks><Task Type=\"deviceUse\"/><Task Type=\"timer\"/></BackgroundTasks>"
    "</Extension><Extension Category=\"windows.backgroundTasks\" EntryPoint=\"A.Tick\">"
    "<BackgroundTasks><Task Type=\"timer\"/></BackgroundTasks></Extension></Extensions>"
    "<Capabilities><Capability Name=\"internetClient\"/><DeviceCapability Name=\"location\"/>"
    "<DeviceCapability Name=\"usb\"><Device Id=\"vidpid:1209 B0A1\">"
    "<Function Type=\"classId:ff * *\"/></Device></DeviceCapability>"
    "<DeviceCapability Name=\"humaninterfacedevice\"><Device Id=\"vidpid:045E 0610\">"
    "<Function Type=\"usage:FFAA 0001\"/></Device></DeviceCapability>"
    "<DeviceCapability Name=\"bluetooth.rfcomm\"><Device Id=\"any\">"
    "<Function Type=\"name:serialPort\"/></Device></DeviceCapability>"
    "<DeviceCapability Name=\"bluetooth.genericAttributeProfile\"><Device Id=\"any\">"
    "<Function Type=\"serviceId:0000180D-0000-1000-8000-00805F9B34FB\"/></Device></DeviceCapability>"
    "</Capabilities></Application>";
  static const char *const band[] = { "USB\\VID_1209&PID_B0A1&REV_0100", "USB\\VID_1209&PID_B0A1", NULL };
  static const char *const band_class_ff[] = { "USB\\VID_1209&PID_B0A1", "USB\\Class_ff&SubClass_00&Prot_00", NULL };
  static const char *const band_class_08[] = { "USB\\VID_1209&PID_B0A1", "USB\\Class_08&SubClass_06&Prot_50", NULL };
  static const char *const dock[] = { "USB\\VID_1209&PID_D0C1", NULL };
  static const char *const hid_ok[] = { "HID\\VID_045E&PID_0610", "HID_DEVICE_UP:FFAA_U:0001", NULL };
  static const char *const hid_other_usage[] = { "HID\\VID_045E&PID_0610", "HID_DEVICE_UP:0001_U:0006", NULL };
  static const char *const rfcomm[] = {
    "BTHENUM\\{00001101-0000-1000-8000-00805f9b34fb}_VID&00021209_PID&B0A1", NULL };
  static const char *const rfcomm_obex[] = { "BTHENUM\\{00001105-0000-1000-8000-00805f9b34fb}", NULL };
  static const char *const gatt_hr[] = { "BTHLEDevice\\{0000180d-0000-1000-8000-00805f9b34fb}_Dev_VID&001209", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgManifest) m = devbg_manifest_parse (xml, -1, "test.xml", &error);
  g_autofree char *eps = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (devbg_manifest_find_entry_point (m, "A.Sync"));
  g_assert_null (devbg_manifest_find_entry_point (m, "A.Tick")); /* no device task: ignored */
  eps = devbg_manifest_list_entry_points (m);
  g_assert_cmpstr (eps, ==, "'A.Sync' (deviceUse)");
  g_assert_true (devbg_manifest_declares_device (m, DEVBG_PROTOCOL_USB, band));
  g_assert_true (devbg_manifest_declares_device (m, DEVBG_PROTOCOL_USB, band_class_ff));
  g_assert_false (devbg_manifest_declares_device (m, DEVBG_PROTOCOL_USB, band_class_08));
  g_assert_false (devbg_manifest_declares_device (m, DEVBG_PROTOCOL_USB, dock));
  g_assert_true (devbg_manifest_declares_device (m, DEVBG_PROTOCOL_HID, hid_ok));
  g_assert_false (devbg_manifest_declares_device (m, DEVBG_PROTOCOL_HID, hid_other_usage));
  g_assert_false (devbg_manifest_declares_device (m, DEVBG_PROTOCOL_USB, hid_ok));
  g_assert_true (devbg_manifest_declares_device (m, DEVBG_PROTOCOL_BLUETOOTH_RFCOMM, rfcomm));
  g_assert_false (devbg_manifest_declares_device (m, DEVBG_PROTOCOL_BLUETOOTH_RFCOMM, rfcomm_obex));
  g_assert_true (devbg_manifest_declares_device (m, DEVBG_PROTOCOL_BLUETOOTH_GATT, gatt_hr));
  g_assert_false (devbg_manifest_declares_device (m, DEVBG_PROTOCOL_BLUETOOTH_GATT, rfcomm));
  /* An MTP device is a USB device: the usb capability covers it; not the
   * HID protocol's. */
  g_assert_true (devbg_manifest_declares_device (m, DEVBG_PROTOCOL_MTP, band_class_ff));
  g_assert_false (devbg_manifest_declares_device (m, DEVBG_PROTOCOL_MTP, dock));
}

/* devbg's hwid: form names a device with no vendor and product (a
 * vendor's ioctl node) by one exact hardware ID. */
static void
test_declared_by_hardware_id (void)
{
  static const char xml[] =
    "<Application Id=\"org.example.App\" Executable=\"/usr/bin/app\">"
    "<Extensions><Extension Category=\"windows.backgroundTasks\" EntryPoint=\"A.Update\">"
    "<BackgroundTasks><Task Type=\"deviceServicing\"/></BackgroundTasks></Extension></Extensions>"
    "<Capabilities><DeviceCapability Name=\"usb\"><Device Id=\"hwid:ACME\\IO_0001\"/>"
    "</DeviceCapability></Capabilities></Application>";
  static const char *const io[] = { "ACME\\IO_0001", "ACME\\IO", NULL };
  static const char *const io2[] = { "ACME\\IO_0002", "ACME\\IO", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgManifest) m = devbg_manifest_parse (xml, -1, "test.xml", &error);

  g_assert_no_error (error);
  g_assert_true (devbg_manifest_declares_device (m, DEVBG_PROTOCOL_GENERIC_IOCTL, io));
  g_assert_true (devbg_manifest_declares_device (m, DEVBG_PROTOCOL_GENERIC_IOCTL, (const char *const[]) { "acme\\io_0001", NULL }));
  g_assert_false (devbg_manifest_declares_device (m, DEVBG_PROTOCOL_GENERIC_IOCTL, io2));
}

/* The node rights: owner, group, others, and a POSIX ACL (logind's
 * uaccess gives the seat's user a named-user entry). */
static void
test_node_access (void)
{
  DevbgDeviceOwner root_0600 = { .known = TRUE, .uid = 0, .gid = 0, .mode = 0600 };
  DevbgDeviceOwner group_0660 = { .known = TRUE, .uid = 0, .gid = 20, .mode = 0660 };
  DevbgDeviceOwner read_only = { .known = TRUE, .uid = 0, .gid = 0, .mode = 0644 };
  const gid_t in_20[] = { 1000, 20 };
  const gid_t alone[] = { 1000 };
  /* version 2; user_obj rw; user 1000 rw; group_obj ---; mask rw; other --- */
  const guint8 acl[] = {
    2, 0, 0, 0,
    0x01, 0, 6, 0, 0xff, 0xff, 0xff, 0xff,
    0x02, 0, 6, 0, 0xe8, 0x03, 0, 0,
    0x04, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
    0x10, 0, 6, 0, 0xff, 0xff, 0xff, 0xff,
    0x20, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
  };
  guint8 masked[sizeof acl];

  g_assert_true (devbg_access_node_allows (0, NULL, 0, &root_0600, NULL, 0));
  g_assert_false (devbg_access_node_allows (1000, alone, 1, &root_0600, NULL, 0));
  g_assert_true (devbg_access_node_allows (1000, in_20, 2, &group_0660, NULL, 0));
  g_assert_false (devbg_access_node_allows (1000, alone, 1, &group_0660, NULL, 0));
  g_assert_false (devbg_access_node_allows (1000, in_20, 2, &read_only, NULL, 0));
  g_assert_true (devbg_access_node_allows (1000, alone, 1, &root_0600, acl, sizeof acl));
  g_assert_false (devbg_access_node_allows (1001, alone, 1, &root_0600, acl, sizeof acl));
  /* The mask limits a named user's entry. */
  memcpy (masked, acl, sizeof acl);
  masked[4 + 3 * 8 + 2] = 4;
  g_assert_false (devbg_access_node_allows (1000, alone, 1, &root_0600, masked, sizeof masked));
}

static void
write_attr (const char *dir, const char *name, const char *value)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (path, value, -1, NULL));
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_tree (child);
      else
        g_remove (child);
    }
  g_rmdir (path);
}

/* The sysfs fallback: system batteries and mains only. */
static void
test_power_sysfs (void)
{
  g_autofree char *root = g_dir_make_tmp ("devbg-power-XXXXXX", NULL);
  g_autofree char *mouse = g_build_filename (root, "hid-mouse", NULL);
  g_autofree char *bat0 = g_build_filename (root, "BAT0", NULL);
  g_autofree char *bat1 = g_build_filename (root, "BAT1", NULL);
  g_autofree char *ac = g_build_filename (root, "AC", NULL);
  DevbgPowerFacts f;

  f = devbg_power_read_sysfs (root);
  g_assert_false (f.has_battery); /* nothing at all: on mains */
  write_attr (mouse, "type", "Battery\n");
  write_attr (mouse, "scope", "Device\n");
  write_attr (mouse, "capacity", "5\n");
  f = devbg_power_read_sysfs (root);
  g_assert_false (f.has_battery);
  write_attr (bat0, "type", "Battery\n");
  write_attr (bat0, "capacity", "40\n");
  write_attr (bat1, "type", "Battery\n");
  write_attr (bat1, "capacity", "20\n");
  write_attr (ac, "type", "Mains\n");
  write_attr (ac, "online", "0\n");
  f = devbg_power_read_sysfs (root);
  g_assert_true (f.has_battery && f.level_known && !f.on_ac);
  g_assert_cmpfloat (f.percent, ==, 30);
  write_attr (bat1, "present", "0\n");
  write_attr (ac, "online", "1\n");
  f = devbg_power_read_sysfs (root);
  g_assert_true (f.on_ac);
  g_assert_cmpfloat (f.percent, ==, 40);
  write_attr (bat0, "capacity", "unknown\n");
  f = devbg_power_read_sysfs (root);
  g_assert_true (f.has_battery && !f.level_known);
  remove_tree (root);
}

/* ---- the one list of reasons against the documents ---- */

static char *
read_source (const char *relative)
{
  g_autofree char *path = g_build_filename (DEVBG_SOURCE_DIR, relative, NULL);
  g_autoptr(GError) error = NULL;
  char *text = NULL;

  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  return text;
}

/* The words of the comment before <method name="Request">. */
static char *
request_doc_of_xml (const char *xml)
{
  const char *method = strstr (xml, "<method name=\"Request\">");
  const char *start;

  g_assert_nonnull (method);
  start = g_strrstr_len (xml, method - xml, "<!--");
  g_assert_nonnull (start);
  return g_strndup (start, method - start);
}

static gboolean
has_word (const char *text, const char *word)
{
  gsize n = strlen (word);

  for (const char *p = strstr (text, word); p != NULL; p = strstr (p + 1, word))
    {
      gboolean before = p == text || !(g_ascii_isalnum (p[-1]) || p[-1] == '-');
      gboolean after = !(g_ascii_isalnum (p[n]) || p[n] == '-');
      if (before && after)
        return TRUE;
    }
  return FALSE;
}

/* Every reason devbgd can send appears, as a whole word, in the XML's
 * Request documentation, in libdevbg's request documentation and as a row
 * of the README's table; and the README's table has no row that is not a
 * reason. */
static void
test_reasons_documented (void)
{
  g_autofree char *xml = read_source ("data/org.devbg.Devbg1.xml");
  g_autofree char *doc = request_doc_of_xml (xml);
  g_autofree char *header = read_source ("lib/devbg-client.h");
  g_autofree char *readme = read_source ("README.md");
  const char *table = strstr (readme, "| reason |");
  g_auto(GStrv) lines = NULL;
  guint rows_seen = 0;

  g_assert_nonnull (table);
  for (int r = 0; r <= DEVBG_REASON_LAST; r++)
    {
      const char *word = devbg_request_reason_to_string (r);
      g_autofree char *cell = g_strdup_printf ("| `%s` |", word);

      g_assert_nonnull (word);
      if (!has_word (doc, word))
        g_error ("reason %s is not in the D-Bus XML's Request documentation", word);
      if (!has_word (header, word))
        g_error ("reason %s is not in lib/devbg-client.h", word);
      if (strstr (table, cell) == NULL)
        g_error ("reason %s has no row in the README's table", word);
    }
  lines = g_strsplit (table, "\n", -1);
  for (char **l = lines + 2; *l != NULL && g_str_has_prefix (*l, "| `"); l++)
    {
      const char *end = strchr (*l + 3, '`');
      g_autofree char *word = g_strndup (*l + 3, end - (*l + 3));
      DevbgRequestReason r;

      if (!devbg_request_reason_from_string (word, &r))
        g_error ("the README's table has a reason %s that devbgd never sends", word);
      rows_seen++;
    }
  g_assert_cmpuint (rows_seen, ==, DEVBG_REASON_LAST + 1);
}

static void
test_reason_strings (void)
{
  for (int r = 0; r <= DEVBG_REASON_LAST; r++)
    {
      DevbgRequestReason back;
      g_assert_true (devbg_request_reason_from_string (devbg_request_reason_to_string (r), &back));
      g_assert_cmpint (back, ==, r);
    }
  g_assert_null (devbg_request_reason_to_string (DEVBG_REASON_LAST + 1));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/decision/all-pass", test_all_pass);
  for (gsize i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_autofree char *path = g_strdup_printf ("/decision/row/%s", rows[i].name);
      g_test_add_data_func (path, &rows[i], test_row);
    }
  g_test_add_func ("/decision/order", test_order);
  g_test_add_func ("/decision/consent-last", test_consent_last);
  g_test_add_func ("/decision/consent-use-stored", test_consent_use_stored);
  g_test_add_func ("/decision/consent-servicing-every-time", test_consent_servicing_every_time);
  g_test_add_func ("/decision/power", test_power);
  g_test_add_func ("/decision/foreground-not-required", test_foreground_not_required);
  g_test_add_func ("/decision/protocols-narrowed", test_protocols_narrowed);
  g_test_add_func ("/decision/config-protocols", test_config_protocols);
  g_test_add_func ("/decision/declared-devices", test_declared_devices);
  g_test_add_func ("/decision/declared-by-hardware-id", test_declared_by_hardware_id);
  g_test_add_func ("/decision/node-access", test_node_access);
  g_test_add_func ("/decision/power-sysfs", test_power_sysfs);
  g_test_add_func ("/decision/reason-strings", test_reason_strings);
  g_test_add_func ("/decision/reasons-documented", test_reasons_documented);
  return g_test_run ();
}
