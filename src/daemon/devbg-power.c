/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-power"

#include "devbg-power.h"

#include <stdlib.h>
#include <string.h>

#define UPOWER_NAME "org.freedesktop.UPower"
#define UPOWER_PATH "/org/freedesktop/UPower"
#define UPOWER_IFACE "org.freedesktop.UPower"
#define UPOWER_DISPLAY_PATH "/org/freedesktop/UPower/devices/DisplayDevice"
#define UPOWER_DEVICE_IFACE "org.freedesktop.UPower.Device"
#define UPOWER_WARNING_LOW 3 /* UP_DEVICE_LEVEL_LOW; critical and action are above it */
#define PPD_NAME "net.hadess.PowerProfiles"
#define PPD_PATH "/net/hadess/PowerProfiles"

struct _DevbgPower {
  GObject          parent;
  GDBusConnection *connection;
  guint            timeout_ms;
  GCancellable    *cancellable;
  guint            upower_watch;
  guint            ppd_watch;
  guint            props_sub;
  guint            ppd_sub;
  /* UPower, while it runs and once its properties were read */
  gboolean         upower_up;
  gboolean         on_battery_known, display_known;
  gboolean         on_battery;
  gboolean         present;
  double           percent;
  guint            warning_level;
  /* power-profiles-daemon */
  gboolean         power_saver_profile;
  gboolean         energy_saver; /* the last value signalled */
};

enum { SIGNAL_ENERGY_SAVER_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (DevbgPower, devbg_power, G_TYPE_OBJECT)

/* ---- sysfs ---- */

static char *
read_attr (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  return g_strstrip (text);
}

static gboolean
is_mains_type (const char *type)
{
  return g_strcmp0 (type, "Mains") == 0 || g_str_has_prefix (type ? type : "", "USB");
}

DevbgPowerFacts
devbg_power_read_sysfs (const char *class_dir)
{
  DevbgPowerFacts facts = { 0 };
  g_autoptr(GDir) dir = g_dir_open (class_dir, 0, NULL);
  double sum = 0;
  guint batteries = 0, levels = 0;
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *supply = g_build_filename (class_dir, name, NULL);
      g_autofree char *type = read_attr (supply, "type");
      g_autofree char *scope = read_attr (supply, "scope");
      g_autofree char *present = read_attr (supply, "present");
      g_autofree char *online = read_attr (supply, "online");

      /* A peripheral's own battery says nothing of the machine's. */
      if (g_strcmp0 (scope, "Device") == 0)
        continue;
      if (g_strcmp0 (type, "Battery") == 0 && g_strcmp0 (present, "0") != 0)
        {
          g_autofree char *capacity = read_attr (supply, "capacity");
          guint64 v;

          batteries++;
          if (capacity != NULL && g_ascii_string_to_unsigned (capacity, 10, 0, 100, &v, NULL))
            {
              sum += (double) v;
              levels++;
            }
        }
      else if (is_mains_type (type) && g_strcmp0 (online, "1") == 0)
        facts.on_ac = TRUE;
    }
  facts.has_battery = batteries > 0;
  /* Every battery's level must be known to say what the machine has. */
  facts.level_known = batteries > 0 && levels == batteries;
  facts.percent = levels > 0 ? sum / levels : 0;
  return facts;
}

static char *
sysfs_class_dir (void)
{
  const char *root = g_getenv ("DEVBG_SYSFS_ROOT");

  return g_build_filename (root != NULL && *root != '\0' ? root : "/sys", "class",
                           "power_supply", NULL);
}

/* ---- UPower ---- */

static void
update_energy_saver (DevbgPower *self)
{
  gboolean saving = devbg_power_get_energy_saver (self);

  if (saving == self->energy_saver)
    return;
  self->energy_saver = saving;
  g_info ("the machine %s saving energy", saving ? "is" : "is no longer");
  g_signal_emit (self, signals[SIGNAL_ENERGY_SAVER_CHANGED], 0, saving);
}

static void
apply_upower (DevbgPower *self, GVariant *props)
{
  gboolean b;

  if (g_variant_lookup (props, "OnBattery", "b", &b))
    {
      self->on_battery = b;
      self->on_battery_known = TRUE;
    }
}

static void
apply_display (DevbgPower *self, GVariant *props)
{
  gboolean b;
  double d;
  guint32 u;

  if (g_variant_lookup (props, "IsPresent", "b", &b))
    self->present = b;
  if (g_variant_lookup (props, "Percentage", "d", &d))
    self->percent = CLAMP (d, 0.0, 100.0);
  if (g_variant_lookup (props, "WarningLevel", "u", &u))
    self->warning_level = u;
  self->display_known = TRUE;
}

static void
on_upower_props_changed (GDBusConnection *connection, const char *sender, const char *path,
                         const char *iface, const char *signal, GVariant *params,
                         gpointer user_data)
{
  DevbgPower *self = user_data;
  const char *which;
  g_autoptr(GVariant) changed = NULL;

  (void) connection; (void) sender; (void) iface; (void) signal;
  if (!g_variant_is_of_type (params, G_VARIANT_TYPE ("(sa{sv}as)")))
    return;
  g_variant_get_child (params, 0, "&s", &which);
  changed = g_variant_get_child_value (params, 1);
  if (g_strcmp0 (path, UPOWER_PATH) == 0 && g_strcmp0 (which, UPOWER_IFACE) == 0)
    apply_upower (self, changed);
  else if (g_strcmp0 (path, UPOWER_DISPLAY_PATH) == 0 && g_strcmp0 (which, UPOWER_DEVICE_IFACE) == 0)
    apply_display (self, changed);
  else if (g_strcmp0 (path, PPD_PATH) == 0)
    {
      const char *profile;
      if (g_variant_lookup (changed, "ActiveProfile", "&s", &profile))
        self->power_saver_profile = g_strcmp0 (profile, "power-saver") == 0;
    }
  update_energy_saver (self);
}

typedef struct {
  DevbgPower *self;
  gboolean    display;
} GetAll;

static void
on_get_all (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autofree GetAll *ga = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  g_autoptr(GVariant) props = NULL;

  if (reply == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("cannot read UPower's %s: %s; the battery is unknown until it answers",
                   ga->display ? "display device" : "state", error->message);
      g_object_unref (ga->self);
      return;
    }
  props = g_variant_get_child_value (reply, 0);
  if (ga->display)
    apply_display (ga->self, props);
  else
    apply_upower (ga->self, props);
  update_energy_saver (ga->self);
  g_object_unref (ga->self);
}

static void
get_all (DevbgPower *self, const char *name, const char *path, const char *iface, gboolean display)
{
  GetAll *ga = g_new0 (GetAll, 1);

  ga->self = g_object_ref (self);
  ga->display = display;
  g_dbus_connection_call (self->connection, name, path, "org.freedesktop.DBus.Properties",
                          "GetAll", g_variant_new ("(s)", iface), G_VARIANT_TYPE ("(a{sv})"),
                          G_DBUS_CALL_FLAGS_NO_AUTO_START, (int) self->timeout_ms,
                          self->cancellable, on_get_all, ga);
}

static void
on_upower_appeared (GDBusConnection *connection, const char *name, const char *owner,
                    gpointer user_data)
{
  DevbgPower *self = user_data;

  (void) connection; (void) name;
  g_info ("UPower runs (%s): following its battery state", owner);
  self->upower_up = TRUE;
  self->on_battery_known = self->display_known = FALSE;
  get_all (self, UPOWER_NAME, UPOWER_PATH, UPOWER_IFACE, FALSE);
  get_all (self, UPOWER_NAME, UPOWER_DISPLAY_PATH, UPOWER_DEVICE_IFACE, TRUE);
}

static void
on_upower_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  DevbgPower *self = user_data;

  (void) connection; (void) name;
  if (self->upower_up)
    g_info ("UPower left: the battery is read from sysfs");
  self->upower_up = FALSE;
  self->warning_level = 0;
  update_energy_saver (self);
}

static void
on_ppd_props (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(DevbgPower) self = user_data;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, NULL);
  g_autoptr(GVariant) value = NULL;

  if (reply == NULL)
    return;
  g_variant_get (reply, "(v)", &value);
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    self->power_saver_profile = g_strcmp0 (g_variant_get_string (value, NULL), "power-saver") == 0;
  update_energy_saver (self);
}

static void
on_ppd_appeared (GDBusConnection *connection, const char *name, const char *owner,
                 gpointer user_data)
{
  DevbgPower *self = user_data;

  (void) name; (void) owner;
  g_dbus_connection_call (connection, PPD_NAME, PPD_PATH, "org.freedesktop.DBus.Properties", "Get",
                          g_variant_new ("(ss)", PPD_NAME, "ActiveProfile"), G_VARIANT_TYPE ("(v)"),
                          G_DBUS_CALL_FLAGS_NO_AUTO_START, (int) self->timeout_ms,
                          self->cancellable, on_ppd_props, g_object_ref (self));
}

static void
on_ppd_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  DevbgPower *self = user_data;

  (void) connection; (void) name;
  self->power_saver_profile = FALSE;
  update_energy_saver (self);
}

DevbgPower *
devbg_power_new (GDBusConnection *connection, guint timeout_ms)
{
  DevbgPower *self = g_object_new (DEVBG_TYPE_POWER, NULL);

  self->connection = g_object_ref (connection);
  self->timeout_ms = timeout_ms;
  self->props_sub = g_dbus_connection_signal_subscribe (
    connection, UPOWER_NAME, "org.freedesktop.DBus.Properties", "PropertiesChanged", NULL, NULL,
    G_DBUS_SIGNAL_FLAGS_NONE, on_upower_props_changed, self, NULL);
  self->ppd_sub = g_dbus_connection_signal_subscribe (
    connection, PPD_NAME, "org.freedesktop.DBus.Properties", "PropertiesChanged", PPD_PATH, NULL,
    G_DBUS_SIGNAL_FLAGS_NONE, on_upower_props_changed, self, NULL);
  self->upower_watch = g_bus_watch_name_on_connection (connection, UPOWER_NAME,
                                                       G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                       on_upower_appeared, on_upower_vanished,
                                                       self, NULL);
  self->ppd_watch = g_bus_watch_name_on_connection (connection, PPD_NAME,
                                                    G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                    on_ppd_appeared, on_ppd_vanished, self, NULL);
  return self;
}

DevbgPowerFacts
devbg_power_get_facts (DevbgPower *self)
{
  g_autofree char *dir = NULL;

  if (self->upower_up)
    {
      /* Until UPower has answered, nothing is known: a battery of unknown
       * level, which refuses servicing unless on AC. */
      DevbgPowerFacts f = {
        .has_battery = !self->display_known || self->present || !self->on_battery_known ||
                       self->on_battery,
        .level_known = self->display_known && self->present,
        .percent = self->percent,
        .on_ac = self->on_battery_known && !self->on_battery,
      };
      return f;
    }
  dir = sysfs_class_dir ();
  return devbg_power_read_sysfs (dir);
}

gboolean
devbg_power_get_energy_saver (DevbgPower *self)
{
  gboolean low = self->upower_up && self->on_battery &&
                 self->warning_level >= UPOWER_WARNING_LOW;

  return self->power_saver_profile || low;
}

static void
devbg_power_dispose (GObject *object)
{
  DevbgPower *self = DEVBG_POWER (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->upower_watch, g_bus_unwatch_name);
  g_clear_handle_id (&self->ppd_watch, g_bus_unwatch_name);
  if (self->connection != NULL)
    {
      g_dbus_connection_signal_unsubscribe (self->connection, self->props_sub);
      g_dbus_connection_signal_unsubscribe (self->connection, self->ppd_sub);
    }
  g_clear_object (&self->connection);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (devbg_power_parent_class)->dispose (object);
}

static void
devbg_power_class_init (DevbgPowerClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = devbg_power_dispose;
  signals[SIGNAL_ENERGY_SAVER_CHANGED] =
    g_signal_new ("energy-saver-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
}

static void
devbg_power_init (DevbgPower *self)
{
  self->cancellable = g_cancellable_new ();
}
