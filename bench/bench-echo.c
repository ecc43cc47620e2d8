/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The transport floor of the long lists (bench/bench_scale.py): a service
 * that does nothing but answer a packed page of the size asked, the way
 * devbgd answers History and ListEvents: "(ays)", the bytes in a buffer
 * made for the call and handed to GDBus without a copy. A list of N bytes
 * in P pages costs at least what P calls to it cost on the same bus.
 *
 *   bench-echo                prints READY once it owns its name
 *
 * org.devbg.bench.Echo, /org/devbg/bench/Echo, method Page(u size) -> (ays).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>

#define ECHO_NAME  "org.devbg.bench.Echo"
#define ECHO_PATH  "/org/devbg/bench/Echo"
/* As devbgd's [Service] MaxReplyBytes may be at most. */
#define ECHO_MAX_SIZE (32u * 1024 * 1024)

static const char introspection[] =
  "<node><interface name='" ECHO_NAME "'>"
  "<method name='Page'><arg name='size' type='u' direction='in'/>"
  "<arg name='page' type='ay' direction='out'/><arg name='next' type='s' direction='out'/>"
  "</method></interface></node>";

/* A page as devbgd's look: fields of about 30 bytes, each ended by a NUL. */
static GBytes *
make_page (guint32 size)
{
  GByteArray *page = g_byte_array_sized_new (size);

  g_byte_array_set_size (page, size);
  memset (page->data, 'a', size);
  for (guint32 i = 29; i < size; i += 30)
    page->data[i] = '\0';
  if (size > 0)
    page->data[size - 1] = '\0';
  return g_byte_array_free_to_bytes (page);
}

static void
on_call (GDBusConnection *connection, const char *sender, const char *path,
         const char *interface, const char *method, GVariant *params,
         GDBusMethodInvocation *invocation, gpointer user_data)
{
  g_autoptr(GBytes) page = NULL;
  guint32 size;

  (void) connection, (void) sender, (void) path, (void) interface, (void) method;
  (void) user_data;
  g_variant_get (params, "(u)", &size);
  if (size > ECHO_MAX_SIZE)
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                             "a page is at most %u bytes", ECHO_MAX_SIZE);
      return;
    }
  page = make_page (size);
  g_dbus_method_invocation_return_value (
    invocation,
    g_variant_new ("(@ays)", g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, page, TRUE),
                   ""));
}

static const GDBusInterfaceVTable vtable = { on_call, NULL, NULL, { 0 } };

static void
on_name_acquired (GDBusConnection *connection, const char *name, gpointer user_data)
{
  (void) connection, (void) name, (void) user_data;
  printf ("READY\n");
  fflush (stdout);
}

static void
on_name_lost (GDBusConnection *connection, const char *name, gpointer user_data)
{
  (void) connection, (void) user_data;
  g_printerr ("bench-echo: could not own %s\n", name);
  exit (1);
}

static void
on_bus_acquired (GDBusConnection *connection, const char *name, gpointer user_data)
{
  g_autoptr(GDBusNodeInfo) node = g_dbus_node_info_new_for_xml (introspection, NULL);
  g_autoptr(GError) error = NULL;

  (void) name, (void) user_data;
  if (g_dbus_connection_register_object (connection, ECHO_PATH, node->interfaces[0], &vtable,
                                         NULL, NULL, &error) == 0)
    {
      g_printerr ("bench-echo: %s\n", error->message);
      exit (1);
    }
}

int
main (void)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);

  g_bus_own_name (G_BUS_TYPE_SYSTEM, ECHO_NAME, G_BUS_NAME_OWNER_FLAGS_NONE, on_bus_acquired,
                  on_name_acquired, on_name_lost, NULL, NULL);
  /* Runs until the bench kills it. */
  g_main_loop_run (loop);
  return 0;
}
