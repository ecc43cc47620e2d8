/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * devbg-agent: the desktop consent agent of a user's session, a
 * DevbgConsentAgent of libdevbg. It registers with devbgd on the system
 * bus (the library registers it again whenever devbgd restarts) and shows
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
#include "devbg.h"

#define NOTIFY_NAME "org.freedesktop.Notifications"
#define NOTIFY_PATH "/org/freedesktop/Notifications"

/* One prompt shown as a notification. */
typedef struct {
  DevbgConsentPrompt *prompt;
  guint32             notification_id; /* 0 until Notify answered */
} Prompt;

typedef struct {
  GMainLoop         *loop;
  GDBusConnection   *session;
  DevbgConsentAgent *consent_agent;
  GPtrArray         *prompts;  /* of Prompt, open ones */
} Agent;

static void
prompt_free (Prompt *p)
{
  g_object_unref (p->prompt);
  g_free (p);
}

static void
answer (Agent *agent, Prompt *p, gboolean allow, const char *how)
{
  if (devbg_consent_prompt_answer (p->prompt, allow, NULL))
    g_message ("prompt %s: %s (%s)", devbg_consent_prompt_get_prompt_id (p->prompt),
               allow ? "allowed" : "denied", how);
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

/* The notification's text, in the seed's words. */
static char *
prompt_body (DevbgConsentPrompt *prompt, gboolean servicing)
{
  GString *body = g_string_new (NULL);
  guint duration = devbg_consent_prompt_get_expected_duration_s (prompt);
  const char *app_name = devbg_consent_prompt_get_app_name (prompt);
  const char *app_id = devbg_consent_prompt_get_app_id (prompt);

  /* The name is the app's own claim (its manifest's DisplayName): the ID
   * is what devbgd vouches for, so it comes first, where no name can push
   * it out of sight or off the first line. The name is isolated (U+2068
   * FIRST STRONG ISOLATE ... U+2069 POP DIRECTIONAL ISOLATE), so a
   * right-to-left one neither turns the paragraph right-to-left nor
   * reorders the text around it. */
  if (g_strcmp0 (app_name, app_id) != 0)
    g_string_append_printf (body, "%s (\u201c\u2068%s\u2069\u201d)", app_id, app_name);
  else
    g_string_append (body, app_id);
  g_string_append_printf (body, servicing ? " wants to update %s in the background."
                                          : " wants to sync with %s in the background.",
                          devbg_consent_prompt_get_device_name (prompt));
  if (devbg_consent_prompt_get_remembered (prompt))
    g_string_append (body, " Your answer is remembered for this kind of device.");
  for (const char * const *w = devbg_consent_prompt_get_warnings (prompt); *w != NULL; w++)
    g_string_append_printf (body, "\n%s", *w);
  if (duration > 0)
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
      g_warning ("cannot show prompt %s as a notification: %s",
                 devbg_consent_prompt_get_prompt_id (p->prompt), error->message);
      answer (agent, p, FALSE, "no notification server");
      return;
    }
  g_variant_get (reply, "(u)", &p->notification_id);
}

/* Shows @p's notification, its body escaped when the server reads markup
 * in it: the app's and the device's names are not the agent's text (a USB
 * device names itself), and a prompt must say what it asks and no more. */
static void
notify (Agent *agent, Prompt *p, gboolean body_markup)
{
  gboolean servicing = devbg_consent_prompt_get_trigger_type (p->prompt) == DEVBG_TRIGGER_SERVICING;
  g_autofree char *text = prompt_body (p->prompt, servicing);
  g_autofree char *body = body_markup ? g_markup_escape_text (text, -1) : g_strdup (text);
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
on_capabilities (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Notifying *n = user_data;
  Agent *agent = n->agent;
  Prompt *p = n->prompt;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             NULL);
  g_autofree const char **capabilities = NULL;

  g_free (n);
  if (!g_ptr_array_find (agent->prompts, p, NULL))
    return; /* withdrawn meanwhile */
  /* No answer: the Notify that follows finds the server gone, or a server
   * that does not say; markup is then assumed, the escaped text being
   * the safe side. */
  if (reply != NULL)
    g_variant_get (reply, "(^a&s)", &capabilities);
  notify (agent, p, reply == NULL || g_strv_contains (capabilities, "body-markup"));
}

/* Asked again for each prompt: the server may have changed since. */
static void
show (Agent *agent, Prompt *p)
{
  Notifying *n = g_new0 (Notifying, 1);

  n->agent = agent;
  n->prompt = p;
  g_dbus_connection_call (agent->session, NOTIFY_NAME, NOTIFY_PATH, NOTIFY_NAME,
                          "GetCapabilities", NULL, G_VARIANT_TYPE ("(as)"),
                          G_DBUS_CALL_FLAGS_NONE, 10000, NULL, on_capabilities, n);
}

static void
on_prompt (DevbgConsentAgent *consent_agent, DevbgConsentPrompt *prompt, gpointer user_data)
{
  Agent *agent = user_data;
  Prompt *p = g_new0 (Prompt, 1);

  (void) consent_agent;
  p->prompt = g_object_ref (prompt);
  g_ptr_array_add (agent->prompts, p);
  show (agent, p);
}

static void
on_prompt_withdrawn (DevbgConsentAgent *consent_agent, DevbgConsentPrompt *prompt,
                     gpointer user_data)
{
  Agent *agent = user_data;

  (void) consent_agent;
  for (guint i = 0; i < agent->prompts->len; i++)
    {
      Prompt *p = g_ptr_array_index (agent->prompts, i);
      if (p->prompt != prompt)
        continue;
      g_message ("prompt %s withdrawn by devbgd", devbg_consent_prompt_get_prompt_id (prompt));
      if (p->notification_id != 0)
        g_dbus_connection_call (agent->session, NOTIFY_NAME, NOTIFY_PATH, NOTIFY_NAME,
                                "CloseNotification", g_variant_new ("(u)", p->notification_id),
                                NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL, NULL);
      g_ptr_array_remove_index (agent->prompts, i);
      break;
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

/* devbgd keeps no agents across restarts: the library registers this one
 * again whenever devbgd comes back; this only logs it. */
static void
on_registered_changed (DevbgConsentAgent *consent_agent, GParamSpec *pspec, gpointer user_data)
{
  (void) pspec; (void) user_data;
  if (devbg_consent_agent_get_registered (consent_agent))
    g_message ("registered with devbgd as this session's consent agent");
  else
    g_message ("devbgd left; waiting for it to come back");
}

static void
on_registration_failed (DevbgConsentAgent *consent_agent, GError *error, gpointer user_data)
{
  (void) consent_agent; (void) user_data;
  g_warning ("cannot register with devbgd as the consent agent: %s", error->message);
}

static void
on_registered (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  (void) user_data;
  if (devbg_consent_agent_register_finish (DEVBG_CONSENT_AGENT (source), result, &error))
    return;
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER))
    g_message ("devbgd is not running; waiting for it");
  else
    g_warning ("cannot register with devbgd as the consent agent: %s", error->message);
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
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgClient) client = NULL;
  Agent agent = { 0 };

  setlocale (LC_ALL, "");
  g_option_context_set_description (ctx, "Shows devbgd's consent prompts as desktop "
                                         "notifications with Allow and Deny actions.");
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("devbg-agent: %s\n", error->message);
      return 2;
    }
  client = devbg_client_new_sync (NULL, &error);
  if (client != NULL)
    agent.session = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (agent.session == NULL)
    {
      g_printerr ("devbg-agent: %s\n", error->message);
      return 1;
    }
  agent.loop = g_main_loop_new (NULL, FALSE);
  agent.prompts = g_ptr_array_new_with_free_func ((GDestroyNotify) prompt_free);
  agent.consent_agent = devbg_consent_agent_new (client, NULL);
  g_signal_connect (agent.consent_agent, "prompt", G_CALLBACK (on_prompt), &agent);
  g_signal_connect (agent.consent_agent, "prompt-withdrawn", G_CALLBACK (on_prompt_withdrawn),
                    &agent);
  g_signal_connect (agent.consent_agent, "notify::registered",
                    G_CALLBACK (on_registered_changed), &agent);
  g_signal_connect (agent.consent_agent, "registration-failed",
                    G_CALLBACK (on_registration_failed), &agent);
  g_dbus_connection_signal_subscribe (agent.session, NOTIFY_NAME, NOTIFY_NAME, NULL, NOTIFY_PATH,
                                      NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_notification_signal,
                                      &agent, NULL);
  devbg_consent_agent_register_async (agent.consent_agent, NULL, on_registered, &agent);
  g_unix_signal_add (SIGINT, on_quit, &agent);
  g_unix_signal_add (SIGTERM, on_quit, &agent);

  g_main_loop_run (agent.loop);

  g_signal_handlers_disconnect_by_data (agent.consent_agent, &agent);
  g_ptr_array_unref (agent.prompts);
  devbg_consent_agent_unregister_sync (agent.consent_agent, NULL, NULL);
  /* Denies what is still open: no one is left to ask. */
  g_object_unref (agent.consent_agent);
  g_dbus_connection_flush_sync (devbg_client_get_connection (client), NULL, NULL);
  g_main_loop_unref (agent.loop);
  g_object_unref (agent.session);
  return 0;
}
