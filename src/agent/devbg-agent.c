/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * devbg-agent: the desktop consent agent of a user's session. It registers
 * with devbgd on the system bus (again whenever devbgd restarts) and shows
 * each prompt as a desktop notification with Allow and Deny actions
 * (org.freedesktop.Notifications on the session bus). A notification
 * closed without an action is a denial: the person did not allow.
 * Started by XDG autostart (devbg-agent.desktop) or the systemd user unit
 * (devbg-agent.service).
 */
#include <gio/gio.h>
#include <glib-unix.h>
#include <locale.h>
#include <string.h>
#include "devbg-names.h"

#define AGENT_PATH "/org/devbg/Agent"
#define DEVBG_NAME DEVBG_DBUS_SERVICE
#define NOTIFY_NAME "org.freedesktop.Notifications"
#define NOTIFY_PATH "/org/freedesktop/Notifications"

static const char agent_xml[] =
  "<node><interface name='org.devbg.Devbg1.ConsentAgent1'>"
  "<method name='RequestConsent'><arg name='details' type='a{sv}' direction='in'/>"
  "<arg name='allow' type='b' direction='out'/></method>"
  "<method name='CancelConsent'><arg name='prompt_id' type='s' direction='in'/></method>"
  "</interface></node>";

/* One prompt shown as a notification. */
typedef struct {
  char                  *prompt_id;
  guint32                notification_id; /* 0 until Notify answered */
  GDBusMethodInvocation *invocation;      /* NULL once answered */
} Prompt;

typedef struct {
  GMainLoop       *loop;
  GDBusConnection *system;
  GDBusConnection *session;
  char            *devbgd;   /* devbgd's unique name while it runs */
  GPtrArray       *prompts;  /* of Prompt */
} Agent;

static void
prompt_free (Prompt *p)
{
  if (p->invocation != NULL)
    g_dbus_method_invocation_return_dbus_error (p->invocation, DEVBG_DBUS_ERROR_PREFIX "Failed",
                                                "devbg-agent is stopping");
  g_free (p->prompt_id);
  g_free (p);
}

static void
answer (Agent *agent, Prompt *p, gboolean allow, const char *how)
{
  if (p->invocation != NULL)
    {
      g_message ("prompt %s: %s (%s)", p->prompt_id, allow ? "allowed" : "denied", how);
      g_dbus_method_invocation_return_value (g_steal_pointer (&p->invocation),
                                             g_variant_new ("(b)", allow));
    }
  g_ptr_array_remove (agent->prompts, p);
}

static Prompt *
find_by_notification (Agent *agent, guint32 id)
{
  for (guint i = 0; i < agent->prompts->len; i++)
    {
      Prompt *p = g_ptr_array_index (agent->prompts, i);
      if (id != 0 && p->notification_id == id)
        return p;
    }
  return NULL;
}

static const char *
lookup (GVariant *details, const char *key)
{
  const char *value = "?";

  g_variant_lookup (details, key, "&s", &value);
  return value;
}

/* The notification's text, in the seed's words. */
static char *
prompt_body (GVariant *details, gboolean servicing)
{
  GString *body = g_string_new (NULL);
  g_autofree const char **warnings = NULL;
  guint32 duration = 0;

  if (servicing)
    g_string_append_printf (body, "%s wants to update %s in the background.",
                            lookup (details, "app-name"), lookup (details, "device-name"));
  else
    g_string_append_printf (body, "%s wants to sync with %s in the background. "
                            "Your answer is remembered for this kind of device.",
                            lookup (details, "app-name"), lookup (details, "device-name"));
  if (g_variant_lookup (details, "warnings", "^a&s", &warnings))
    for (const char **w = warnings; *w != NULL; w++)
      g_string_append_printf (body, "\n%s", *w);
  if (g_variant_lookup (details, "expected-duration", "u", &duration) && duration > 0)
    g_string_append_printf (body, "\nIt takes about %u minute%s.", MAX (1u, (duration + 59) / 60),
                            (duration + 59) / 60 > 1 ? "s" : "");
  return g_string_free (body, FALSE);
}

typedef struct {
  Agent  *agent;
  Prompt *prompt;
} Notifying;

static void
on_notified (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Notifying *n = user_data;
  Agent *agent = n->agent;
  Prompt *p = n->prompt;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             &error);

  g_free (n);
  if (!g_ptr_array_find (agent->prompts, p, NULL))
    return; /* withdrawn meanwhile */
  if (reply == NULL)
    {
      /* Nobody can be asked: no answer is no consent. */
      g_warning ("cannot show prompt %s as a notification: %s", p->prompt_id, error->message);
      answer (agent, p, FALSE, "no notification server");
      return;
    }
  g_variant_get (reply, "(u)", &p->notification_id);
}

static void
show (Agent *agent, Prompt *p, GVariant *details)
{
  gboolean servicing = strcmp (lookup (details, "trigger"), "servicing") == 0;
  g_autofree char *body = prompt_body (details, servicing);
  const char *actions[] = { "allow", "Allow", "deny", "Deny", NULL };
  GVariantBuilder hints;
  Notifying *n = g_new0 (Notifying, 1);

  g_variant_builder_init (&hints, G_VARIANT_TYPE ("a{sv}"));
  /* Critical: it stays until answered, as a question must. */
  g_variant_builder_add (&hints, "{sv}", "urgency", g_variant_new_byte (2));
  g_variant_builder_add (&hints, "{sv}", "resident", g_variant_new_boolean (TRUE));
  g_variant_builder_add (&hints, "{sv}", "desktop-entry", g_variant_new_string ("devbg-agent"));
  n->agent = agent;
  n->prompt = p;
  g_dbus_connection_call (agent->session, NOTIFY_NAME, NOTIFY_PATH, NOTIFY_NAME, "Notify",
                          g_variant_new ("(susss^asa{sv}i)", "Device background tasks", 0,
                                         "drive-removable-media",
                                         servicing ? "Allow a device update?"
                                                   : "Allow background sync?",
                                         body, actions, &hints, 0),
                          G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, 10000, NULL,
                          on_notified, n);
}

static void
on_method_call (GDBusConnection *connection, const char *sender, const char *path,
                const char *iface, const char *method, GVariant *params,
                GDBusMethodInvocation *invocation, gpointer user_data)
{
  Agent *agent = user_data;

  (void) connection; (void) path; (void) iface;
  /* Only devbgd asks: anyone else could show fake prompts. */
  if (agent->devbgd == NULL || strcmp (sender, agent->devbgd) != 0)
    {
      g_dbus_method_invocation_return_dbus_error (invocation,
                                                  "org.freedesktop.DBus.Error.AccessDenied",
                                                  "only devbgd may call a consent agent");
      return;
    }
  if (strcmp (method, "RequestConsent") == 0)
    {
      g_autoptr(GVariant) details = g_variant_get_child_value (params, 0);
      Prompt *p = g_new0 (Prompt, 1);

      p->prompt_id = g_strdup (lookup (details, "prompt-id"));
      p->invocation = invocation;
      g_ptr_array_add (agent->prompts, p);
      show (agent, p, details);
      return;
    }
  {
    const char *id;

    g_variant_get (params, "(&s)", &id);
    for (guint i = 0; i < agent->prompts->len; i++)
      {
        Prompt *p = g_ptr_array_index (agent->prompts, i);
        if (strcmp (p->prompt_id, id) != 0)
          continue;
        g_message ("prompt %s withdrawn by devbgd", id);
        if (p->notification_id != 0)
          g_dbus_connection_call (agent->session, NOTIFY_NAME, NOTIFY_PATH, NOTIFY_NAME,
                                  "CloseNotification", g_variant_new ("(u)", p->notification_id),
                                  NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL, NULL);
        g_dbus_method_invocation_return_dbus_error (g_steal_pointer (&p->invocation),
                                                    DEVBG_DBUS_ERROR_PREFIX "Failed", "withdrawn");
        g_ptr_array_remove_index (agent->prompts, i);
        break;
      }
    g_dbus_method_invocation_return_value (invocation, NULL);
  }
}

static void
on_notification_signal (GDBusConnection *connection, const char *sender, const char *path,
                        const char *iface, const char *signal, GVariant *params,
                        gpointer user_data)
{
  Agent *agent = user_data;
  Prompt *p;
  guint32 id;

  (void) connection; (void) sender; (void) path; (void) iface;
  if (strcmp (signal, "ActionInvoked") == 0 && g_variant_is_of_type (params, G_VARIANT_TYPE ("(us)")))
    {
      const char *action;
      g_variant_get (params, "(u&s)", &id, &action);
      if ((p = find_by_notification (agent, id)) != NULL)
        answer (agent, p, strcmp (action, "allow") == 0, action);
    }
  else if (strcmp (signal, "NotificationClosed") == 0 &&
           g_variant_is_of_type (params, G_VARIANT_TYPE ("(uu)")))
    {
      g_variant_get (params, "(uu)", &id, NULL);
      if ((p = find_by_notification (agent, id)) != NULL)
        answer (agent, p, FALSE, "notification closed without an answer");
    }
}

static void
on_devbgd_appeared (GDBusConnection *connection, const char *name, const char *owner,
                    gpointer user_data)
{
  Agent *agent = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  (void) name;
  g_free (agent->devbgd);
  agent->devbgd = g_strdup (owner);
  reply = g_dbus_connection_call_sync (connection, DEVBG_NAME, DEVBG_DBUS_PATH,
                                       DEVBG_DBUS_MANAGER_INTERFACE, "RegisterConsentAgent",
                                       g_variant_new ("(o)", AGENT_PATH), NULL,
                                       G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);
  if (reply == NULL)
    g_warning ("cannot register with devbgd as the consent agent: %s", error->message);
  else
    g_message ("registered with devbgd (%s) as this session's consent agent", owner);
}

static void
on_devbgd_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  Agent *agent = user_data;

  (void) connection; (void) name;
  if (agent->devbgd != NULL)
    g_message ("devbgd left; waiting for it to come back");
  g_clear_pointer (&agent->devbgd, g_free);
}

static gboolean
on_quit (gpointer user_data)
{
  g_main_loop_quit (((Agent *) user_data)->loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) ctx = g_option_context_new ("- the devbg consent agent of this session");
  g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (agent_xml, NULL);
  g_autoptr(GError) error = NULL;
  static const GDBusInterfaceVTable vtable = { .method_call = on_method_call };
  Agent agent = { 0 };
  guint object_id, watch;

  setlocale (LC_ALL, "");
  g_option_context_set_description (ctx, "Shows devbgd's consent prompts as desktop "
                                         "notifications with Allow and Deny actions.");
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("devbg-agent: %s\n", error->message);
      return 2;
    }
  agent.system = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
  if (agent.system != NULL)
    agent.session = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (agent.session == NULL)
    {
      g_printerr ("devbg-agent: %s\n", error->message);
      return 1;
    }
  agent.loop = g_main_loop_new (NULL, FALSE);
  agent.prompts = g_ptr_array_new_with_free_func ((GDestroyNotify) prompt_free);
  object_id = g_dbus_connection_register_object (agent.system, AGENT_PATH, info->interfaces[0],
                                                 &vtable, &agent, NULL, &error);
  if (object_id == 0)
    {
      g_printerr ("devbg-agent: %s\n", error->message);
      return 1;
    }
  g_dbus_connection_signal_subscribe (agent.session, NOTIFY_NAME, NOTIFY_NAME, NULL, NOTIFY_PATH,
                                      NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_notification_signal,
                                      &agent, NULL);
  watch = g_bus_watch_name_on_connection (agent.system, DEVBG_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                          on_devbgd_appeared, on_devbgd_vanished, &agent, NULL);
  g_unix_signal_add (SIGINT, on_quit, &agent);
  g_unix_signal_add (SIGTERM, on_quit, &agent);

  g_main_loop_run (agent.loop);

  g_bus_unwatch_name (watch);
  if (agent.devbgd != NULL)
    g_dbus_connection_call_sync (agent.system, DEVBG_NAME, DEVBG_DBUS_PATH,
                                 DEVBG_DBUS_MANAGER_INTERFACE, "UnregisterConsentAgent",
                                 g_variant_new ("(o)", AGENT_PATH), NULL, G_DBUS_CALL_FLAGS_NONE,
                                 5000, NULL, NULL);
  g_ptr_array_unref (agent.prompts);
  g_dbus_connection_unregister_object (agent.system, object_id);
  g_dbus_connection_flush_sync (agent.system, NULL, NULL);
  g_free (agent.devbgd);
  g_main_loop_unref (agent.loop);
  g_object_unref (agent.session);
  g_object_unref (agent.system);
  return 0;
}
