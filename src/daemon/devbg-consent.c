/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Consent: stored use consent (devbg-store.c), the consent agents of users'
 * sessions, and the prompts they are asked, a queue of them per session.
 *
 * An agent is a program in a user's session that exports
 * org.devbg.Devbg1.ConsentAgent1 and registers it (RegisterConsentAgent).
 * It serves the (uid, logind session) it registered from: a prompt goes
 * only to an agent of the same user and the same session (both "none"
 * where logind is absent or the caller is in no session). Like polkit and
 * BlueZ agents, an agent is trusted as much as its user; an app is never
 * one (devbg-daemon.c refuses them), so no app answers its own prompts.
 *
 * Every prompt ends exactly once (prompt_finish): with the agent's answer,
 * or as a denial when the agent does not answer in time, leaves, answers
 * garbage, or the app leaves; a prompt that ends unanswered is withdrawn
 * from the agent (CancelConsent).
 */
#define G_LOG_DOMAIN "devbg-consent"

#include "devbg-consent.h"

#include <string.h>

#include "devbg-error.h"
#include "devbg-log.h"
#include "devbg-names.h"

#define AGENT_IFACE DEVBG_DBUS_CONSENT_AGENT_INTERFACE
#define LOGIND_BUS_NAME "org.freedesktop.login1"
#define LOGIND_TIMEOUT_MS 5000
#define CANCEL_TIMEOUT_MS 5000
/* A reply after the prompt's own timer is still read (and logged as late)
 * for this long; then GDBus forgets the call. */
#define LATE_REPLY_MS 30000

struct _DevbgConsent {
  GObject            parent;
  const DevbgConfig *config;
  DevbgStore        *store;
  GDBusConnection   *connection;
  GPtrArray         *agents;  /* of Agent, oldest registration first */
  GHashTable        *queues;  /* "uid/session" -> GQueue of Prompt, head shown */
  gboolean           stopping; /* no prompt is shown any more */
};

G_DEFINE_TYPE (DevbgConsent, devbg_consent, G_TYPE_OBJECT)

/* ---- agents ---- */

typedef struct {
  char    *sender;  /* its unique bus name */
  char    *path;
  guint32  uid;
  char    *session; /* logind session ID; NULL: none */
  guint    watch;   /* of its bus name */
} Agent;

static void
agent_free (Agent *agent)
{
  if (agent->watch != 0)
    g_bus_unwatch_name (agent->watch);
  g_free (agent->sender);
  g_free (agent->path);
  g_free (agent->session);
  g_free (agent);
}

/* The agent that serves (@uid, @session): the latest registered. */
static Agent *
find_agent (DevbgConsent *consent, guint32 uid, const char *session)
{
  for (guint i = consent->agents->len; i > 0; i--)
    {
      Agent *agent = g_ptr_array_index (consent->agents, i - 1);
      if (agent->uid == uid && g_strcmp0 (agent->session, session) == 0)
        return agent;
    }
  return NULL;
}

static gboolean
has_agent_of_user (DevbgConsent *consent, guint32 uid)
{
  for (guint i = 0; i < consent->agents->len; i++)
    if (((Agent *) g_ptr_array_index (consent->agents, i))->uid == uid)
      return TRUE;
  return FALSE;
}

/* HeadlessConsent's answer when nobody can be asked, and why (static). */
static gboolean
headless_answer (DevbgConsent *consent, const char **why)
{
  gboolean allow = consent->config->headless_consent == DEVBG_HEADLESS_CONSENT_ALLOW;

  *why = allow ? "no consent agent runs; HeadlessConsent=allow"
               : "no consent agent runs; HeadlessConsent=deny";
  return allow;
}

/* With no agent of the user in any session, nobody can be asked, whatever
 * the session: HeadlessConsent answers at once, as it would at the head of
 * the queue, without a prompt, a session lookup or a watch of the app
 * (a request's time, on every request, with HeadlessConsent=allow). */
static gboolean
answer_headless_if_no_agent (DevbgConsent *consent, const DevbgConsentQuestion *question,
                             GTask *task)
{
  const char *why;
  gboolean allow;

  if (has_agent_of_user (consent, question->uid))
    return FALSE;
  allow = headless_answer (consent, &why);
  /* Debug: a caller makes these at will; the request's refusal, logged
   * within a limit per app, says the outcome. */
  devbg_log_request (G_LOG_LEVEL_DEBUG, question->app_id, question->task_id, question->device_id,
                     question->uid, "consent for %s of uid %u (%s on %s): %s: %s",
                     question->app_id, (unsigned) question->uid,
                     devbg_trigger_type_to_string (question->trigger), question->device_id,
                     allow ? "allowed" : "denied", why);
  g_task_set_task_data (task, g_strdup (why), g_free);
  g_task_return_boolean (task, allow);
  return TRUE;
}

/* ---- prompts ---- */

typedef struct {
  gint             refs;      /* the queue's, and each call in flight */
  DevbgConsent    *consent;   /* NULL once finished */
  GTask           *task;      /* NULL once finished */
  char            *queue_key;
  char            *prompt_id;
  guint32          uid;
  char            *session;
  char            *app_id, *app_name, *sender, *device_id, *device_name, *model_id;
  char            *task_id; /* for the log */
  DevbgTriggerType trigger;
  guint            expected_duration_s;
  char            *agent_sender; /* set while shown */
  char            *agent_path;
  guint            timeout_id;
  guint            app_watch;
  GCancellable    *cancellable;
  gulong           cancel_handler;
} Prompt;

static Prompt *
prompt_ref (Prompt *prompt)
{
  prompt->refs++;
  return prompt;
}

static void
prompt_unref (Prompt *prompt)
{
  if (--prompt->refs > 0)
    return;
  g_free (prompt->queue_key);
  g_free (prompt->prompt_id);
  g_free (prompt->session);
  g_free (prompt->app_id);
  g_free (prompt->task_id);
  g_free (prompt->app_name);
  g_free (prompt->sender);
  g_free (prompt->device_id);
  g_free (prompt->device_name);
  g_free (prompt->model_id);
  g_free (prompt->agent_sender);
  g_free (prompt->agent_path);
  g_free (prompt);
}

static char *
queue_key (guint32 uid, const char *session)
{
  return g_strdup_printf ("%u/%s", (unsigned) uid, session != NULL ? session : "");
}

static void show_next (DevbgConsent *consent, const char *key);

static void
withdraw (DevbgConsent *consent, Prompt *prompt)
{
  if (prompt->agent_sender == NULL)
    return;
  g_dbus_connection_call (consent->connection, prompt->agent_sender, prompt->agent_path,
                          AGENT_IFACE, "CancelConsent", g_variant_new ("(s)", prompt->prompt_id),
                          NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, CANCEL_TIMEOUT_MS, NULL, NULL,
                          NULL);
}

/* Ends @prompt once: answers its task (a use consent given is stored
 * first), withdraws it from the agent when it was shown and not answered,
 * and shows the next prompt of its session. */
static void
prompt_finish (Prompt *prompt, gboolean allow, gboolean answered, const char *why)
{
  DevbgConsent *consent = prompt->consent;
  g_autoptr(GTask) task = g_steal_pointer (&prompt->task);
  g_autoptr(GError) error = NULL;
  GQueue *queue;
  gboolean was_head;

  if (consent == NULL)
    return;
  prompt->consent = NULL;
  g_clear_handle_id (&prompt->timeout_id, g_source_remove);
  if (prompt->app_watch != 0)
    g_bus_unwatch_name (prompt->app_watch);
  prompt->app_watch = 0;
  if (prompt->cancel_handler != 0)
    g_cancellable_disconnect (prompt->cancellable, prompt->cancel_handler);
  prompt->cancel_handler = 0;
  g_clear_object (&prompt->cancellable);
  if (!answered)
    withdraw (consent, prompt);

  devbg_log_request (G_LOG_LEVEL_INFO, prompt->app_id, prompt->task_id, prompt->device_id, prompt->uid,
                     "consent prompt %s (%s of uid %u, %s on %s): %s: %s", prompt->prompt_id,
                     prompt->app_id, (unsigned) prompt->uid,
                     devbg_trigger_type_to_string (prompt->trigger), prompt->device_id,
                     allow ? "allowed" : "denied", why);
  /* A person's "allow" of a use task is kept until revoked; HeadlessConsent
   * is the administrator's default for when nobody can be asked, read
   * again at each request: an allow of its is no one's answer to keep, and
   * would outlive the setting. */
  if (allow && prompt->trigger == DEVBG_TRIGGER_USE && prompt->agent_sender != NULL)
    {
      DevbgOwner owner = { .uid = prompt->uid, .app_id = prompt->app_id };
      if (!devbg_store_add_consent (consent->store, &owner, prompt->model_id, g_get_real_time (),
                                    &error))
        g_task_return_error (task, g_steal_pointer (&error));
    }
  if (!g_task_had_error (task))
    {
      g_task_set_task_data (task, g_strdup (why), g_free);
      g_task_return_boolean (task, allow);
    }

  queue = g_hash_table_lookup (consent->queues, prompt->queue_key);
  was_head = queue != NULL && g_queue_peek_head (queue) == prompt;
  if (queue != NULL && g_queue_remove (queue, prompt))
    {
      g_autofree char *key = g_strdup (prompt->queue_key);
      prompt_unref (prompt);
      if (g_queue_is_empty (queue))
        g_hash_table_remove (consent->queues, key);
      else if (was_head)
        show_next (consent, key);
    }
}

static gboolean
on_prompt_timeout (gpointer user_data)
{
  Prompt *prompt = user_data;
  g_autofree char *why = NULL;

  prompt->timeout_id = 0;
  why = g_strdup_printf ("the consent agent %s gave no answer within %g s (ConsentTimeout)",
                         prompt->agent_sender, prompt->consent->config->consent_timeout);
  prompt_finish (prompt, FALSE, FALSE, why);
  return G_SOURCE_REMOVE;
}

static void
on_agent_reply (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Prompt *prompt = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             &error);
  gboolean allow = FALSE;

  if (prompt->consent == NULL)
    {
      if (reply != NULL)
        devbg_log_request (G_LOG_LEVEL_WARNING, prompt->app_id, prompt->task_id, prompt->device_id,
                           prompt->uid, "consent agent answered prompt %s of %s after it "
                           "ended; ignored", prompt->prompt_id, prompt->app_id);
    }
  else if (reply == NULL)
    {
      g_autofree char *why = g_strdup_printf ("the consent agent %s failed to answer: %s",
                                              prompt->agent_sender, error->message);
      devbg_log_request (G_LOG_LEVEL_WARNING, prompt->app_id, prompt->task_id, prompt->device_id,
                         prompt->uid, "prompt %s: %s", prompt->prompt_id, why);
      prompt_finish (prompt, FALSE, TRUE, why);
    }
  else if (!g_variant_is_of_type (reply, G_VARIANT_TYPE ("(b)")))
    {
      g_autofree char *why = g_strdup_printf ("the consent agent %s answered %s, not (b); "
                                              "its answer is ignored", prompt->agent_sender,
                                              g_variant_get_type_string (reply));
      devbg_log_request (G_LOG_LEVEL_WARNING, prompt->app_id, prompt->task_id, prompt->device_id,
                         prompt->uid, "prompt %s: %s", prompt->prompt_id, why);
      prompt_finish (prompt, FALSE, TRUE, why);
    }
  else
    {
      g_autofree char *why = NULL;
      g_variant_get (reply, "(b)", &allow);
      why = g_strdup_printf ("the person %s it (consent agent %s)", allow ? "allowed" : "denied",
                             prompt->agent_sender);
      prompt_finish (prompt, allow, TRUE, why);
    }
  prompt_unref (prompt);
}

static GVariant *
prompt_details (Prompt *prompt)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
  g_variant_builder_add (&b, "{sv}", "prompt-id", g_variant_new_string (prompt->prompt_id));
  g_variant_builder_add (&b, "{sv}", "uid", g_variant_new_uint32 (prompt->uid));
  g_variant_builder_add (&b, "{sv}", "app-id", g_variant_new_string (prompt->app_id));
  g_variant_builder_add (&b, "{sv}", "app-name", g_variant_new_string (prompt->app_name));
  g_variant_builder_add (&b, "{sv}", "device-id", g_variant_new_string (prompt->device_id));
  g_variant_builder_add (&b, "{sv}", "device-name", g_variant_new_string (prompt->device_name));
  g_variant_builder_add (&b, "{sv}", "model-id", g_variant_new_string (prompt->model_id));
  g_variant_builder_add (&b, "{sv}", "trigger",
                         g_variant_new_string (devbg_trigger_type_to_string (prompt->trigger)));
  if (prompt->trigger == DEVBG_TRIGGER_SERVICING)
    {
      /* What the seed has Windows say for a device update. */
      const char *const warnings[] = {
        "Keep the device connected until the update is done.",
        "Keep the computer charged, or plugged in, until the update is done.",
        NULL,
      };
      g_variant_builder_add (&b, "{sv}", "warnings", g_variant_new_strv (warnings, -1));
      g_variant_builder_add (&b, "{sv}", "expected-duration",
                             g_variant_new_uint32 (prompt->expected_duration_s));
    }
  return g_variant_builder_end (&b);
}

/* Shows @prompt to its session's agent; where none runs (any more),
 * HeadlessConsent answers. */
static void
prompt_show (DevbgConsent *consent, Prompt *prompt)
{
  Agent *agent = find_agent (consent, prompt->uid, prompt->session);
  guint timeout_ms = (guint) (consent->config->consent_timeout * 1000);

  if (agent == NULL)
    {
      const char *why;
      gboolean allow = headless_answer (consent, &why);

      prompt_finish (prompt, allow, TRUE, why);
      return;
    }
  prompt->agent_sender = g_strdup (agent->sender);
  prompt->agent_path = g_strdup (agent->path);
  devbg_log_request (G_LOG_LEVEL_DEBUG, prompt->app_id, prompt->task_id, prompt->device_id, prompt->uid,
                     "prompt %s shown by consent agent %s %s", prompt->prompt_id, agent->sender,
                     agent->path);
  g_dbus_connection_call (consent->connection, agent->sender, agent->path, AGENT_IFACE,
                          "RequestConsent", g_variant_new ("(@a{sv})", prompt_details (prompt)),
                          NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, (int) timeout_ms + LATE_REPLY_MS,
                          NULL, on_agent_reply, prompt_ref (prompt));
  prompt->timeout_id = g_timeout_add (timeout_ms, on_prompt_timeout, prompt);
}

static void
show_next (DevbgConsent *consent, const char *key)
{
  GQueue *queue = g_hash_table_lookup (consent->queues, key);

  if (!consent->stopping && queue != NULL && !g_queue_is_empty (queue))
    prompt_show (consent, g_queue_peek_head (queue));
}

static void
on_app_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  (void) connection; (void) name;
  prompt_finish (user_data, FALSE, FALSE, "the app left while its consent prompt was open");
}

static gboolean
on_cancel_idle (gpointer user_data)
{
  Prompt *prompt = user_data;

  prompt_finish (prompt, FALSE, FALSE, "the request was canceled while its consent prompt was open");
  prompt_unref (prompt);
  return G_SOURCE_REMOVE;
}

static void
on_prompt_cancelled (GCancellable *cancellable, gpointer user_data)
{
  (void) cancellable;
  /* Not from inside the cancel: g_cancellable_disconnect() would deadlock. */
  g_idle_add (on_cancel_idle, prompt_ref (user_data));
}

DevbgConsent *
devbg_consent_new (const DevbgConfig *config, DevbgStore *store, GDBusConnection *connection)
{
  DevbgConsent *consent = g_object_new (DEVBG_TYPE_CONSENT, NULL);

  consent->config = config;
  consent->store = g_object_ref (store);
  consent->connection = connection != NULL ? g_object_ref (connection) : NULL;
  return consent;
}

gboolean
devbg_consent_is_stored (DevbgConsent *consent, guint32 uid, const char *app_id,
                         const char *model_id)
{
  DevbgOwner owner = { .uid = uid, .app_id = app_id };
  g_autoptr(GError) error = NULL;
  int stored = devbg_store_has_consent (consent->store, &owner, model_id, &error);

  /* A store that cannot say is no consent: the person is asked again. */
  if (stored < 0)
    g_warning ("%s", error->message);
  return stored == 1;
}

void
devbg_consent_ask_async (DevbgConsent *consent, const DevbgConsentQuestion *question,
                         GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (consent, cancellable, callback, user_data);
  g_autofree char *key = queue_key (question->uid, question->session_id);
  GQueue *queue = g_hash_table_lookup (consent->queues, key);
  Prompt *prompt;

  if (answer_headless_if_no_agent (consent, question, task))
    return;
  if (queue != NULL && g_queue_get_length (queue) >= DEVBG_CONSENT_MAX_PROMPTS_PER_SESSION)
    {
      g_autofree char *why = g_strdup_printf ("%u consent prompts already wait in this session, "
                                              "the most allowed", g_queue_get_length (queue));
      devbg_log_request (G_LOG_LEVEL_DEBUG, question->app_id, question->task_id, question->device_id,
                         question->uid, "consent for %s of uid %u on %s: denied: %s",
                         question->app_id, (unsigned) question->uid, question->device_id, why);
      g_task_set_task_data (task, g_steal_pointer (&why), g_free);
      g_task_return_boolean (task, FALSE);
      return;
    }

  prompt = g_new0 (Prompt, 1);
  prompt->refs = 1; /* the queue's */
  prompt->consent = consent;
  prompt->task = g_steal_pointer (&task);
  prompt->queue_key = g_strdup (key);
  prompt->prompt_id = g_uuid_string_random ();
  prompt->uid = question->uid;
  prompt->session = g_strdup (question->session_id);
  prompt->app_id = g_strdup (question->app_id);
  prompt->task_id = g_strdup (question->task_id);
  prompt->app_name = g_strdup (question->app_display_name != NULL ? question->app_display_name
                                                                  : question->app_id);
  prompt->sender = g_strdup (question->sender);
  prompt->device_id = g_strdup (question->device_id);
  prompt->device_name = g_strdup (question->device_name != NULL ? question->device_name
                                                                 : question->device_id);
  prompt->model_id = g_strdup (question->model_id != NULL ? question->model_id : "");
  prompt->trigger = question->trigger;
  prompt->expected_duration_s = question->expected_duration_s;

  if (queue == NULL)
    {
      queue = g_queue_new ();
      g_hash_table_insert (consent->queues, g_strdup (key), queue);
    }
  g_queue_push_tail (queue, prompt);
  if (question->sender != NULL && consent->connection != NULL)
    prompt->app_watch = g_bus_watch_name_on_connection (consent->connection, question->sender,
                                                        G_BUS_NAME_WATCHER_FLAGS_NONE, NULL,
                                                        on_app_vanished, prompt, NULL);
  if (cancellable != NULL)
    {
      prompt->cancellable = g_object_ref (cancellable);
      prompt->cancel_handler = g_cancellable_connect (cancellable,
                                                      G_CALLBACK (on_prompt_cancelled),
                                                      prompt, NULL);
    }
  if (g_queue_peek_head (queue) == prompt)
    prompt_show (consent, prompt);
  else
    devbg_log_request (G_LOG_LEVEL_DEBUG, prompt->app_id, prompt->task_id, prompt->device_id, prompt->uid,
                       "prompt %s waits behind %u in its session", prompt->prompt_id,
                       g_queue_get_length (queue) - 1);
}

gboolean
devbg_consent_ask_finish (DevbgConsent *consent, GAsyncResult *result, char **why,
                          GError **error)
{
  GTask *task = G_TASK (result);
  g_autoptr(GError) local = NULL;
  gboolean allow = g_task_propagate_boolean (task, &local);

  (void) consent;
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (!allow && why != NULL)
    *why = g_strdup (g_task_get_task_data (task));
  return allow;
}

/* ---- agents ---- */

/* Where logind is absent, or the process is in no session: NULL. */
typedef struct {
  GDBusConnection *connection;
  char            *path;
} SessionLookup;

static void
on_session_id (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             &error);
  g_autoptr(GVariant) value = NULL;

  if (reply == NULL)
    {
      g_debug ("cannot read a logind session's ID: %s", error->message);
      g_task_return_pointer (task, NULL, NULL);
      return;
    }
  g_variant_get (reply, "(v)", &value);
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    g_task_return_pointer (task, NULL, NULL);
  else
    g_task_return_pointer (task, g_variant_dup_string (value, NULL), g_free);
}

static void
on_session_path (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             &error);
  const char *path;

  if (reply == NULL)
    {
      /* No logind (no such name), or a process in no session (NoSessionForPID). */
      g_debug ("no logind session for pid %u: %s",
               GPOINTER_TO_UINT (g_task_get_task_data (task)), error->message);
      g_task_return_pointer (task, NULL, NULL);
      return;
    }
  g_variant_get (reply, "(&o)", &path);
  g_dbus_connection_call (G_DBUS_CONNECTION (source), LOGIND_BUS_NAME, path,
                          "org.freedesktop.DBus.Properties", "Get",
                          g_variant_new ("(ss)", "org.freedesktop.login1.Session", "Id"),
                          G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NO_AUTO_START,
                          LOGIND_TIMEOUT_MS, NULL, on_session_id, g_steal_pointer (&task));
}

/* The logind session ID of process @pid, or NULL. */
static void
lookup_session_async (DevbgConsent *consent, guint32 pid, GAsyncReadyCallback callback,
                      gpointer user_data)
{
  GTask *task = g_task_new (consent, NULL, callback, user_data);

  g_task_set_task_data (task, GUINT_TO_POINTER (pid), NULL);
  if (consent->connection == NULL)
    {
      g_task_return_pointer (task, NULL, NULL);
      g_object_unref (task);
      return;
    }
  g_dbus_connection_call (consent->connection, LOGIND_BUS_NAME, "/org/freedesktop/login1",
                          "org.freedesktop.login1.Manager", "GetSessionByPID",
                          g_variant_new ("(u)", pid), G_VARIANT_TYPE ("(o)"),
                          G_DBUS_CALL_FLAGS_NO_AUTO_START, LOGIND_TIMEOUT_MS, NULL,
                          on_session_path, task);
}

static char *
lookup_session_finish (GAsyncResult *result)
{
  return g_task_propagate_pointer (G_TASK (result), NULL);
}

static void
on_agent_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  DevbgConsent *consent = user_data;
  g_autoptr(GPtrArray) shown = g_ptr_array_new_with_free_func ((GDestroyNotify) prompt_unref);
  GHashTableIter iter;
  gpointer value;

  (void) connection;
  for (guint i = consent->agents->len; i > 0; i--)
    {
      Agent *agent = g_ptr_array_index (consent->agents, i - 1);
      if (strcmp (agent->sender, name) == 0)
        {
          g_info ("consent agent %s %s of uid %u left", agent->sender, agent->path,
                  (unsigned) agent->uid);
          g_ptr_array_remove_index (consent->agents, i - 1);
        }
    }
  /* Its open prompts are denied; the next of each session goes to another
   * agent of that session, or to HeadlessConsent. */
  g_hash_table_iter_init (&iter, consent->queues);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Prompt *head = g_queue_peek_head (value);
      if (head != NULL && g_strcmp0 (head->agent_sender, name) == 0)
        g_ptr_array_add (shown, prompt_ref (head));
    }
  for (guint i = 0; i < shown->len; i++)
    prompt_finish (g_ptr_array_index (shown, i), FALSE, TRUE,
                   "the consent agent left before it answered");
}

typedef struct {
  char    *sender;
  char    *path;
  guint32  uid;
} Registering;

static void
registering_free (Registering *r)
{
  g_free (r->sender);
  g_free (r->path);
  g_free (r);
}

static guint
count_agents (DevbgConsent *consent, guint32 uid)
{
  guint n = 0;

  for (guint i = 0; i < consent->agents->len; i++)
    n += ((Agent *) g_ptr_array_index (consent->agents, i))->uid == uid;
  return n;
}

static Agent *
lookup_agent (DevbgConsent *consent, const char *sender, const char *path, guint *index)
{
  for (guint i = 0; i < consent->agents->len; i++)
    {
      Agent *agent = g_ptr_array_index (consent->agents, i);
      if (strcmp (agent->sender, sender) == 0 && strcmp (agent->path, path) == 0)
        {
          if (index != NULL)
            *index = i;
          return agent;
        }
    }
  return NULL;
}

/* Checked before and after the session lookup: two registrations may race. */
static gboolean
check_may_register (DevbgConsent *consent, const Registering *r, GError **error)
{
  if (lookup_agent (consent, r->sender, r->path, NULL) != NULL)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "a consent agent is already registered at %s by this connection", r->path);
      return FALSE;
    }
  if (count_agents (consent, r->uid) >= DEVBG_CONSENT_MAX_AGENTS_PER_USER)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_LIMIT_EXCEEDED,
                   "uid %u already has %u consent agents, the most allowed", (unsigned) r->uid,
                   (unsigned) DEVBG_CONSENT_MAX_AGENTS_PER_USER);
      return FALSE;
    }
  return TRUE;
}

static void
on_agent_session (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  DevbgConsent *consent = DEVBG_CONSENT (source);
  Registering *r = g_task_get_task_data (task);
  g_autofree char *session = lookup_session_finish (res);
  g_autoptr(GError) error = NULL;
  Agent *agent;

  if (!check_may_register (consent, r, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  agent = g_new0 (Agent, 1);
  agent->sender = g_strdup (r->sender);
  agent->path = g_strdup (r->path);
  agent->uid = r->uid;
  agent->session = g_steal_pointer (&session);
  agent->watch = g_bus_watch_name_on_connection (consent->connection, r->sender,
                                                 G_BUS_NAME_WATCHER_FLAGS_NONE, NULL,
                                                 on_agent_vanished, consent, NULL);
  g_ptr_array_add (consent->agents, agent);
  g_info ("consent agent %s %s registered for uid %u, session %s", agent->sender, agent->path,
          (unsigned) agent->uid, agent->session ? agent->session : "(none)");
  g_task_return_boolean (task, TRUE);
}

void
devbg_consent_register_agent_async (DevbgConsent *consent, const char *sender,
                                    const char *path, guint32 uid, guint32 pid,
                                    GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (consent, NULL, callback, user_data);
  Registering *r = g_new0 (Registering, 1);
  g_autoptr(GError) error = NULL;

  r->sender = g_strdup (sender);
  r->path = g_strdup (path);
  r->uid = uid;
  g_task_set_task_data (task, r, (GDestroyNotify) registering_free);
  if (!check_may_register (consent, r, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  lookup_session_async (consent, pid, on_agent_session, g_steal_pointer (&task));
}

gboolean
devbg_consent_register_agent_finish (DevbgConsent *consent, GAsyncResult *result,
                                     GError **error)
{
  (void) consent;
  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
devbg_consent_unregister_agent (DevbgConsent *consent, const char *sender, const char *path,
                                GError **error)
{
  guint index;
  Agent *agent = lookup_agent (consent, sender, path, &index);

  if (agent == NULL)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "this connection registered no consent agent at %s", path);
      return FALSE;
    }
  g_info ("consent agent %s %s unregistered", sender, path);
  g_ptr_array_remove_index (consent->agents, index);
  return TRUE;
}

/* ---- asking for a caller whose session is not known yet ---- */

typedef struct {
  DevbgConsentQuestion question; /* its strings owned here */
  char                *strings[7];
  GCancellable        *cancellable;
} SenderAsk;

static void
sender_ask_free (SenderAsk *ask)
{
  for (guint i = 0; i < G_N_ELEMENTS (ask->strings); i++)
    g_free (ask->strings[i]);
  g_clear_object (&ask->cancellable);
  g_free (ask);
}

static void
on_sender_answer (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *why = NULL;
  gboolean allow = devbg_consent_ask_finish (DEVBG_CONSENT (source), res, &why, &error);

  if (error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_set_task_data (task, g_steal_pointer (&why), g_free);
  g_task_return_boolean (task, allow);
}

static void
on_sender_session (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  SenderAsk *ask = g_task_get_task_data (task);
  g_autofree char *session = lookup_session_finish (res);

  ask->question.session_id = session;
  devbg_consent_ask_async (DEVBG_CONSENT (source), &ask->question, ask->cancellable,
                           on_sender_answer, task);
}

static void
on_sender_pid (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  DevbgConsent *consent = g_task_get_source_object (task);
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             NULL);
  guint32 pid = 0;

  if (reply != NULL)
    g_variant_get (reply, "(u)", &pid);
  lookup_session_async (consent, pid, on_sender_session, task);
}

void
devbg_consent_ask_for_sender_async (DevbgConsent *consent, const DevbgConsentQuestion *question,
                                    GCancellable *cancellable, GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  GTask *task = g_task_new (consent, cancellable, callback, user_data);
  SenderAsk *ask;
  const char *strings[] = { question->app_id, question->app_display_name, question->sender,
                            question->device_id, question->device_name, question->model_id, NULL };

  if (answer_headless_if_no_agent (consent, question, task))
    {
      g_object_unref (task);
      return;
    }
  ask = g_new0 (SenderAsk, 1);
  G_STATIC_ASSERT (G_N_ELEMENTS (strings) == G_N_ELEMENTS (ask->strings));
  for (guint i = 0; i < G_N_ELEMENTS (strings); i++)
    ask->strings[i] = g_strdup (strings[i]);
  ask->question = *question;
  ask->question.app_id = ask->strings[0];
  ask->question.app_display_name = ask->strings[1];
  ask->question.sender = ask->strings[2];
  ask->question.device_id = ask->strings[3];
  ask->question.device_name = ask->strings[4];
  ask->question.model_id = ask->strings[5];
  ask->question.session_id = NULL;
  ask->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  g_task_set_task_data (task, ask, (GDestroyNotify) sender_ask_free);
  if (consent->connection == NULL || question->sender == NULL)
    {
      lookup_session_async (consent, 0, on_sender_session, task);
      return;
    }
  g_dbus_connection_call (consent->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                          g_variant_new ("(s)", question->sender), G_VARIANT_TYPE ("(u)"),
                          G_DBUS_CALL_FLAGS_NONE, LOGIND_TIMEOUT_MS, NULL, on_sender_pid, task);
}

/* ---- object ---- */

void
devbg_consent_shutdown (DevbgConsent *consent)
{
  consent->stopping = TRUE;
  if (consent->queues != NULL)
    {
      g_autoptr(GPtrArray) open = g_ptr_array_new_with_free_func ((GDestroyNotify) prompt_unref);
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, consent->queues);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        for (GList *l = ((GQueue *) value)->head; l != NULL; l = l->next)
          g_ptr_array_add (open, prompt_ref (l->data));
      for (guint i = 0; i < open->len; i++)
        prompt_finish (g_ptr_array_index (open, i), FALSE, FALSE, "devbgd is stopping");
      /* After the main loop ended, GTask defers the answers to idle
       * sources: run them, so that the apps get their denial before
       * devbgd leaves the bus. */
      for (guint n = 0; open->len > 0 && n < 1000 && g_main_context_pending (NULL); n++)
        g_main_context_iteration (NULL, FALSE);
    }
}

static void
devbg_consent_dispose (GObject *object)
{
  DevbgConsent *consent = DEVBG_CONSENT (object);

  devbg_consent_shutdown (consent);
  g_clear_pointer (&consent->agents, g_ptr_array_unref);
  g_clear_pointer (&consent->queues, g_hash_table_unref);
  g_clear_object (&consent->store);
  g_clear_object (&consent->connection);
  G_OBJECT_CLASS (devbg_consent_parent_class)->dispose (object);
}

static void
devbg_consent_class_init (DevbgConsentClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = devbg_consent_dispose;
}

static void
devbg_consent_init (DevbgConsent *consent)
{
  consent->agents = g_ptr_array_new_with_free_func ((GDestroyNotify) agent_free);
  consent->queues = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify) g_queue_free);
}
