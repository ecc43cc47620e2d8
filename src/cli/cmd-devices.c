/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * devbgctl devices [--watch]
 */
#include "devbgctl.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define DEVICES_IFACE DEVBG_DBUS_DEVICES_INTERFACE

static void
add_device_json (JsonBuilder *b, const char *id, GVariant *props)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, id);
  g_variant_iter_init (&iter, props);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      json_builder_set_member_name (b, key);
      json_builder_add_value (b, json_gvariant_serialize (value));
      g_variant_unref (value);
    }
  json_builder_end_object (b);
}

static char *
hardware_ids_text (GVariant *props)
{
  g_autofree const char **ids = NULL;

  if (!g_variant_lookup (props, "hardware-ids", "^a&s", &ids))
    return g_strdup ("");
  return g_strjoinv (" ", (char **) ids);
}

static void
print_device (const char *id, GVariant *props)
{
  const char *name = "", *protocol = "", *fw = "";
  g_autofree char *hwids = hardware_ids_text (props);

  g_variant_lookup (props, "name", "&s", &name);
  g_variant_lookup (props, "protocol", "&s", &protocol);
  g_variant_lookup (props, "firmware-version", "&s", &fw);
  g_print ("%-24s  %-16s  %-8s  %-24s  %s\n", id, protocol, *fw ? fw : "-", name, hwids);
}

static int
list_devices (Devbgctl *ctl, GDBusConnection *c)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) list = NULL;
  GVariantIter iter;
  const char *id;
  GVariant *props;

  reply = g_dbus_connection_call_sync (c, DEVBG_DBUS_SERVICE, DEVBG_DBUS_PATH, DEVICES_IFACE,
                                       "ListDevices", NULL, G_VARIANT_TYPE ("(a(sa{sv}))"),
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  if (reply == NULL)
    return devbgctl_fail ("devices", error);
  list = g_variant_get_child_value (reply, 0);
  if (ctl->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_array (b);
      g_variant_iter_init (&iter, list);
      while (g_variant_iter_next (&iter, "(&s@a{sv})", &id, &props))
        {
          add_device_json (b, id, props);
          g_variant_unref (props);
        }
      json_builder_end_array (b);
      devbgctl_print_json (b);
      return 0;
    }
  if (g_variant_n_children (list) == 0)
    {
      g_print ("no devices\n");
      return 0;
    }
  g_print ("%-24s  %-16s  %-8s  %-24s  %s\n", "ID", "PROTOCOL", "FIRMWARE", "NAME", "HARDWARE IDS");
  g_variant_iter_init (&iter, list);
  while (g_variant_iter_next (&iter, "(&s@a{sv})", &id, &props))
    {
      print_device (id, props);
      g_variant_unref (props);
    }
  return 0;
}

/* --watch: one line per event; with --json one compact JSON object a line. */
static void
on_event (GDBusConnection *c, const char *sender, const char *path, const char *iface,
          const char *signal, GVariant *params, gpointer user_data)
{
  Devbgctl *ctl = user_data;
  const char *id;
  g_autoptr(GVariant) props = NULL;

  g_variant_get_child (params, 0, "&s", &id);
  if (g_variant_n_children (params) > 1)
    props = g_variant_get_child_value (params, 1);
  if (ctl->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonGenerator) gen = json_generator_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *text = NULL;
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "event");
      json_builder_add_string_value (b, signal);
      json_builder_set_member_name (b, "device");
      if (props != NULL)
        add_device_json (b, id, props);
      else
        json_builder_add_string_value (b, id);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      json_generator_set_root (gen, root);
      text = json_generator_to_data (gen, NULL);
      g_print ("%s\n", text);
    }
  else
    {
      g_autofree char *hwids = props ? hardware_ids_text (props) : g_strdup ("");
      g_print ("%-8s %s %s\n", g_str_equal (signal, "DeviceAdded") ? "added" :
               g_str_equal (signal, "DeviceRemoved") ? "removed" : "changed", id, hwids);
    }
  fflush (stdout);
}

static gboolean
on_quit (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static void
on_closed (GDBusConnection *c, gboolean vanished, GError *error, gpointer loop)
{
  g_main_loop_quit (loop);
}

static int
watch_devices (Devbgctl *ctl, GDBusConnection *c)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  guint sub;

  /* Subscribe first, then list: no event falls in between. */
  sub = g_dbus_connection_signal_subscribe (c, DEVBG_DBUS_SERVICE, DEVICES_IFACE, NULL,
                                            DEVBG_DBUS_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                            on_event, ctl, NULL);
  if (!ctl->json && list_devices (ctl, c) != 0)
    return 1;
  g_unix_signal_add (SIGINT, on_quit, loop);
  g_unix_signal_add (SIGTERM, on_quit, loop);
  g_signal_connect (c, "closed", G_CALLBACK (on_closed), loop);
  g_main_loop_run (loop);
  g_dbus_connection_signal_unsubscribe (c, sub);
  return 0;
}

int
devbgctl_cmd_devices (Devbgctl *ctl, int argc, char **argv)
{
  gboolean watch = FALSE;
  DevbgClient *client;

  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "--watch") == 0 || strcmp (argv[i], "-w") == 0)
      watch = TRUE;
    else if (strcmp (argv[i], "--json") == 0)
      ctl->json = TRUE;
    else
      {
        g_printerr ("devbgctl devices: unknown argument '%s'\n", argv[i]);
        return 2;
      }
  if ((client = devbgctl_client (ctl)) == NULL)
    return 1;
  if (watch)
    return watch_devices (ctl, devbg_client_get_connection (client));
  return list_devices (ctl, devbg_client_get_connection (client));
}
