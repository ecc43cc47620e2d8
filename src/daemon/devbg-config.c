/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-config"

#include "devbg-config.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "devbg-error.h"
#include "devbg-names.h"

typedef enum {
  KEY_UINT,
  KEY_SECONDS,
  KEY_BOOL,
  KEY_PROTOCOLS,
  KEY_CONSENT,
  KEY_PATH,      /* "" or an absolute path, no ".." */
  KEY_USER,      /* a user name, [A-Za-z0-9_.-], not starting with '-' */
} KeyKind;

typedef struct {
  const char *group;
  const char *key;
  KeyKind     kind;
  gsize       offset;
  double      min, max; /* for KEY_UINT and KEY_SECONDS */
} KeySpec;

#define F(field) offsetof (DevbgConfig, field)
static const KeySpec keys[] = {
  { "Service", "MaxRegistrationsPerApp", KEY_UINT, F (max_registrations_per_app), 1, 100000 },
  { "Service", "EnableVirtualBackend", KEY_BOOL, F (enable_virtual_backend), 0, 0 },
  { "Service", "EnableUdevBackend", KEY_BOOL, F (enable_udev_backend), 0, 0 },
  { "Service", "EnableBluezBackend", KEY_BOOL, F (enable_bluez_backend), 0, 0 },
  { "Service", "EnableNetworkBackend", KEY_BOOL, F (enable_network_backend), 0, 0 },
  { "Service", "TaskCgroupParent", KEY_PATH, F (task_cgroup_parent), 0, 0 },
  { "Service", "MaxPendingEvents", KEY_UINT, F (max_pending_events), 1, 100000 },
  { "Service", "MaxReplyBytes", KEY_UINT, F (max_reply_bytes), 65536, 33554432 },
  { "Service", "HistoryMaxPerApp", KEY_UINT, F (history_max_per_app), 0, 1000000 },
  { "Service", "HistoryMaxAge", KEY_SECONDS, F (history_max_age), 60, 10 * 365 * 86400.0 },
  { "Service", "TaskUserForRoot", KEY_USER, F (task_user_for_root), 0, 0 },
  { "Policy", "UseWallClockLimit", KEY_SECONDS, F (use_wall_clock_limit), 0.01, 86400 },
  { "Policy", "ServicingWallClockLimit", KEY_SECONDS, F (servicing_wall_clock_limit), 0.01, 86400 },
  { "Policy", "MaxExpectedDuration", KEY_SECONDS, F (max_expected_duration), 1, 86400 },
  { "Policy", "MinBatteryPercent", KEY_UINT, F (min_battery_percent), 0, 100 },
  { "Policy", "IoActivityWindow", KEY_SECONDS, F (io_activity_window), 0.01, 3600 },
  { "Policy", "CpuFloorMs", KEY_UINT, F (cpu_floor_ms), 0, 60000 },
  { "Policy", "CpuReferenceMHz", KEY_UINT, F (cpu_reference_mhz), 1, 100000 },
  { "Policy", "CpuWindowLocked", KEY_SECONDS, F (cpu_window_locked), 0.01, 86400 },
  { "Policy", "CpuWindowUnlocked", KEY_SECONDS, F (cpu_window_unlocked), 0.01, 86400 },
  { "Policy", "CancelGracePeriod", KEY_SECONDS, F (cancel_grace_period), 0, 600 },
  { "Policy", "RequireForeground", KEY_BOOL, F (require_foreground), 0, 0 },
  { "Policy", "HeadlessConsent", KEY_CONSENT, F (headless_consent), 0, 0 },
  { "Policy", "ConsentTimeout", KEY_SECONDS, F (consent_timeout), 0.1, 3600 },
  { "Policy", "UseProtocols", KEY_PROTOCOLS, F (use_protocols), 0, 0 },
  { "Policy", "ServicingProtocols", KEY_PROTOCOLS, F (servicing_protocols), 0, 0 },
};
#undef F

#define PROTO_BIT(p) (1u << (p))

void
devbg_config_init_defaults (DevbgConfig *config)
{
  *config = (DevbgConfig) {
    .max_registrations_per_app = 64,
    .enable_virtual_backend = FALSE,
    .enable_udev_backend = TRUE,
    .enable_bluez_backend = TRUE,
    .enable_network_backend = TRUE,
    .max_pending_events = 1000,
    .max_reply_bytes = DEVBG_PACKED_PAGE_MAX_BYTES,
    .history_max_per_app = 1000,
    .history_max_age = 30 * 86400,
    .use_wall_clock_limit = 10 * 60,
    .servicing_wall_clock_limit = 30 * 60,
    .max_expected_duration = 30 * 60,
    .min_battery_percent = 33,
    .io_activity_window = 5,
    .cpu_floor_ms = 400,
    .cpu_reference_mhz = 1000,
    .cpu_window_locked = 60,
    .cpu_window_unlocked = 5 * 60,
    .cancel_grace_period = 5,
    .require_foreground = TRUE,
    .headless_consent = DEVBG_HEADLESS_CONSENT_DENY,
    .task_user_for_root = "devbg-task", /* data/sysusers.d/devbgd.conf */
    .consent_timeout = 60,
    .use_protocols = PROTO_BIT (DEVBG_PROTOCOL_USB) | PROTO_BIT (DEVBG_PROTOCOL_HID) |
                     PROTO_BIT (DEVBG_PROTOCOL_BLUETOOTH_RFCOMM) |
                     PROTO_BIT (DEVBG_PROTOCOL_BLUETOOTH_GATT),
  };
  config->servicing_protocols = config->use_protocols |
    PROTO_BIT (DEVBG_PROTOCOL_MTP) | PROTO_BIT (DEVBG_PROTOCOL_NETWORK_WIRED) |
    PROTO_BIT (DEVBG_PROTOCOL_NETWORK_WIFI) | PROTO_BIT (DEVBG_PROTOCOL_GENERIC_IOCTL);
}

/* The seed's protocol table, the widest a trigger may ever allow:
 * configuration narrows it, never widens it (MTP, network and ioctl
 * devices are never allowed for a use task). */
static guint32
seed_protocols (const KeySpec *spec)
{
  DevbgConfig seed;

  devbg_config_init_defaults (&seed);
  return spec->offset == offsetof (DevbgConfig, use_protocols) ? seed.use_protocols
                                                               : seed.servicing_protocols;
}

static char *
widened_protocols (const KeySpec *spec, guint32 bits)
{
  GString *extra = g_string_new (NULL);
  guint32 over = bits & ~seed_protocols (spec);

  for (guint p = DEVBG_PROTOCOL_USB; p <= DEVBG_PROTOCOL_GENERIC_IOCTL; p++)
    if (over & PROTO_BIT (p))
      g_string_append_printf (extra, "%s%s", extra->len ? ", " : "", devbg_protocol_to_string (p));
  g_string_prepend (extra, "the seed's protocol table never allows ");
  g_string_append_printf (extra, " for %s; configuration may narrow the list, not widen it",
                          spec->offset == offsetof (DevbgConfig, use_protocols)
                            ? "a use task" : "a servicing task");
  return g_string_free (extra, FALSE);
}

static const KeySpec *
find_key (const char *group, const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    if (strcmp (keys[i].group, group) == 0 && strcmp (keys[i].key, key) == 0)
      return &keys[i];
  return NULL;
}

static gboolean
group_known (const char *group)
{
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    if (strcmp (keys[i].group, group) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
bad_value (GError **error, const char *origin, const KeySpec *spec,
           const char *value, const char *expected)
{
  g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_CONFIG,
               "%s: [%s] %s=%s: %s", origin, spec->group, spec->key, value,
               expected);
  return FALSE;
}

/* The portable user name characters (POSIX), bounded as useradd bounds
 * them; a leading '-' would read as an option to tools. */
static gboolean
user_name_is_valid (const char *name)
{
  gsize len = strlen (name);

  if (len == 0 || len >= DEVBG_CONFIG_MAX_USER || name[0] == '-')
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '_' && name[i] != '.' && name[i] != '-')
      return FALSE;
  return TRUE;
}

static gboolean
parse_value (DevbgConfig *config, const KeySpec *spec, const char *raw,
             const char *origin, GError **error)
{
  g_autofree char *value = g_strstrip (g_strdup (raw));
  char *field = (char *) config + spec->offset;

  switch (spec->kind)
    {
    case KEY_UINT:
      {
        guint64 v;
        if (!g_ascii_string_to_unsigned (value, 10, (guint64) spec->min,
                                         (guint64) spec->max, &v, NULL))
          {
            g_autofree char *want = g_strdup_printf ("expected a whole number from %.0f to %.0f",
                                                     spec->min, spec->max);
            return bad_value (error, origin, spec, value, want);
          }
        *(guint *) field = (guint) v;
        return TRUE;
      }
    case KEY_SECONDS:
      {
        char *end = NULL;
        double v = g_ascii_strtod (value, &end);
        if (*value == '\0' || end == NULL || *end != '\0' || !isfinite (v) ||
            v < spec->min || v > spec->max)
          {
            g_autofree char *want = g_strdup_printf ("expected seconds from %g to %g",
                                                     spec->min, spec->max);
            return bad_value (error, origin, spec, value, want);
          }
        *(double *) field = v;
        return TRUE;
      }
    case KEY_BOOL:
      if (strcmp (value, "true") == 0)
        *(gboolean *) field = TRUE;
      else if (strcmp (value, "false") == 0)
        *(gboolean *) field = FALSE;
      else
        return bad_value (error, origin, spec, value, "expected true or false");
      return TRUE;
    case KEY_CONSENT:
      if (strcmp (value, "deny") == 0)
        *(DevbgHeadlessConsent *) field = DEVBG_HEADLESS_CONSENT_DENY;
      else if (strcmp (value, "allow") == 0)
        *(DevbgHeadlessConsent *) field = DEVBG_HEADLESS_CONSENT_ALLOW;
      else
        return bad_value (error, origin, spec, value, "expected deny or allow");
      return TRUE;
    case KEY_PATH:
      if (*value != '\0' &&
          (!g_path_is_absolute (value) || strstr (value, "/..") != NULL ||
           strlen (value) >= DEVBG_CONFIG_MAX_PATH))
        return bad_value (error, origin, spec, value,
                          "expected nothing (automatic) or an absolute path without '..'");
      g_strlcpy (field, value, DEVBG_CONFIG_MAX_PATH);
      return TRUE;
    case KEY_USER:
      if (!user_name_is_valid (value))
        return bad_value (error, origin, spec, value,
                          "expected a user name of 1 to 32 letters, digits, '_', '.' or '-', "
                          "not starting with '-'");
      g_strlcpy (field, value, DEVBG_CONFIG_MAX_USER);
      return TRUE;
    case KEY_PROTOCOLS:
      {
        g_auto(GStrv) names = g_strsplit (value, ";", -1);
        guint32 bits = 0;
        for (char **n = names; *n != NULL; n++)
          {
            DevbgProtocol p;
            g_strstrip (*n);
            if (**n == '\0')
              continue;
            if (!devbg_protocol_from_string (*n, &p) || p == DEVBG_PROTOCOL_UNKNOWN)
              {
                g_autofree char *want = g_strdup_printf (
                  "unknown protocol '%s'; expected a ;-separated list of usb, hid, "
                  "bluetooth-rfcomm, bluetooth-gatt, mtp, network-wired, "
                  "network-wifi, generic-ioctl", *n);
                return bad_value (error, origin, spec, value, want);
              }
            bits |= PROTO_BIT (p);
          }
        if ((bits & ~seed_protocols (spec)) != 0)
          {
            g_autofree char *why = widened_protocols (spec, bits);
            return bad_value (error, origin, spec, value, why);
          }
        *(guint32 *) field = bits;
        return TRUE;
      }
    }
  g_assert_not_reached ();
}

/* What GKeyFile lets pass in silence: a key with a locale ("Key[de]=",
 * which it keeps aside and never lists) and a key given twice in a group
 * (the last wins). Both are an administrator's mistake, said with the
 * lines. */
static gboolean
check_lines (const char *data, gsize length, const char *origin, GError **error)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  /* (gsize) -1: NUL-terminated, as GKeyFile takes it. */
  g_autofree char *text = g_strndup (data, length == (gsize) -1 ? strlen (data) : length);
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  const char *group = "";

  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *line = g_strstrip (lines[i]);
      char *eq;
      g_autofree char *key = NULL;
      gpointer before;

      if (*line == '[')
        group = line;
      if (*line == '\0' || *line == '#' || *line == '[' || (eq = strchr (line, '=')) == NULL)
        continue;
      *eq = '\0';
      g_strchomp (line);
      if (strchr (line, '[') != NULL)
        {
          g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_CONFIG,
                       "%s: line %u: %s: a key with a locale is no configuration key", origin,
                       i + 1, line);
          return FALSE;
        }
      key = g_strconcat (group, line, NULL);
      if (g_hash_table_lookup_extended (seen, key, NULL, &before))
        {
          g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_CONFIG,
                       "%s: line %u: %s %s is given a second time (first at line %u)", origin,
                       i + 1, group, line, GPOINTER_TO_UINT (before));
          return FALSE;
        }
      g_hash_table_insert (seen, g_steal_pointer (&key), GUINT_TO_POINTER (i + 1));
    }
  return TRUE;
}

gboolean
devbg_config_load_data (DevbgConfig *config, const char *data, gsize length,
                        const char *origin, GError **error)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;
  g_auto(GStrv) groups = NULL;
  DevbgConfig result = *config;

  if (!g_key_file_load_from_data (kf, data, length, G_KEY_FILE_NONE, &local_error))
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_CONFIG, "%s: %s", origin,
                   local_error->message);
      return FALSE;
    }
  if (!check_lines (data, length, origin, error))
    return FALSE;

  groups = g_key_file_get_groups (kf, NULL);
  for (char **g = groups; *g != NULL; g++)
    {
      g_auto(GStrv) names = NULL;

      if (!group_known (*g))
        {
          g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_CONFIG,
                       "%s: unknown group [%s]; known groups are [Service] and [Policy]",
                       origin, *g);
          return FALSE;
        }
      names = g_key_file_get_keys (kf, *g, NULL, NULL);
      for (char **k = names; k != NULL && *k != NULL; k++)
        {
          const KeySpec *spec = find_key (*g, *k);
          g_autofree char *raw = NULL;

          if (spec == NULL)
            {
              g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_CONFIG,
                           "%s: unknown key %s in [%s]", origin, *k, *g);
              return FALSE;
            }
          raw = g_key_file_get_value (kf, *g, *k, NULL);
          if (!parse_value (&result, spec, raw != NULL ? raw : "", origin, error))
            return FALSE;
        }
    }

  *config = result;
  return TRUE;
}

gboolean
devbg_config_load_file (DevbgConfig *config, const char *path, GError **error)
{
  g_autofree char *data = NULL;
  gsize length = 0;
  g_autoptr(GError) local_error = NULL;

  if (!g_file_get_contents (path, &data, &length, &local_error))
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_CONFIG,
                   "cannot read configuration: %s", local_error->message);
      return FALSE;
    }
  return devbg_config_load_data (config, data, length, path, error);
}

gboolean
devbg_config_protocol_allowed (const DevbgConfig *config, DevbgTriggerType trigger,
                               DevbgProtocol protocol)
{
  guint32 bits = trigger == DEVBG_TRIGGER_SERVICING ? config->servicing_protocols
                                                    : config->use_protocols;
  return protocol != DEVBG_PROTOCOL_UNKNOWN && (bits & PROTO_BIT (protocol)) != 0;
}

char *
devbg_config_to_data (const DevbgConfig *config)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();

  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      const KeySpec *spec = &keys[i];
      const char *field = (const char *) config + spec->offset;
      g_autofree char *value = NULL;

      switch (spec->kind)
        {
        case KEY_UINT:
          value = g_strdup_printf ("%u", *(const guint *) field);
          break;
        case KEY_SECONDS:
          {
            char buf[G_ASCII_DTOSTR_BUF_SIZE];
            value = g_strdup (g_ascii_dtostr (buf, sizeof buf, *(const double *) field));
            break;
          }
        case KEY_BOOL:
          value = g_strdup (*(const gboolean *) field ? "true" : "false");
          break;
        case KEY_CONSENT:
          value = g_strdup (*(const DevbgHeadlessConsent *) field == DEVBG_HEADLESS_CONSENT_ALLOW
                              ? "allow" : "deny");
          break;
        case KEY_PATH:
        case KEY_USER:
          value = g_strdup (field);
          break;
        case KEY_PROTOCOLS:
          {
            GString *s = g_string_new (NULL);
            guint32 bits = *(const guint32 *) field;
            for (guint p = DEVBG_PROTOCOL_USB; p <= DEVBG_PROTOCOL_GENERIC_IOCTL; p++)
              if (bits & PROTO_BIT (p))
                g_string_append_printf (s, "%s;", devbg_protocol_to_string (p));
            value = g_string_free (s, FALSE);
            break;
          }
        }
      g_key_file_set_value (kf, spec->group, spec->key, value);
    }
  return g_key_file_to_data (kf, NULL, NULL);
}
