"""The pages' words in Turkish and English, and which language a request gets.

Order: ``?lang=`` (the switch on every page), then the subscriber's own language on
pages reached by their link, then the browser's Accept-Language, then [site] language.
"""

from __future__ import annotations

from starlette.requests import Request

from m5syndicate.config import LANGUAGES

TEXT: dict[str, dict[str, str]] = {
    "tr": {
        "switch_label": "Dil",
        "subscribe_title": "Bültene abone olun",
        "subscribe_intro": "Yeni makaleler, seçtiğiniz dilde ve sıklıkta e-posta kutunuza gelsin.",
        "email": "E-posta adresiniz",
        "language": "Bülten dili",
        "cadence": "Sıklık",
        "cadence_instant": "Anında (son dakika haberleri)",
        "cadence_daily": "Günlük",
        "cadence_weekly": "Haftalık",
        "categories": "Kategoriler",
        "categories_hint": "Hiçbirini seçmezseniz tüm kategoriler gelir.",
        "format": "Biçim",
        "format_html": "HTML (görselli)",
        "format_text": "Düz metin",
        "consent": "Bu adrese bülten gönderilmesini kabul ediyorum; istediğim an tek "
        "tıkla ayrılabilirim.",
        "honeypot": "Bu alanı boş bırakın",
        "subscribe_button": "Abone ol",
        "check_title": "E-posta kutunuza bakın",
        "check_body": "Bu adres için abonelik isteği aldık. Onay bağlantısı içeren bir "
        "e-posta gönderildiyse birkaç dakika içinde gelir; aboneliği başlatmak için "
        "bağlantıyı açıp onaylayın.",
        "confirm_title": "Aboneliği onaylayın",
        "confirm_body": "Bülten aboneliğini başlatmak için düğmeye basın.",
        "confirm_button": "Onaylıyorum",
        "confirmed_title": "Aboneliğiniz onaylandı",
        "confirmed_body": "Teşekkürler! Bültenler seçtiğiniz sıklıkta gelecek.",
        "preferences_link": "Tercihlerinizi değiştirin",
        "preferences_title": "Bülten tercihleri",
        "save_button": "Kaydet",
        "saved": "Tercihleriniz kaydedildi.",
        "unsubscribe_from_here": "Artık bülten almak istemiyorsanız:",
        "unsubscribe_title": "Abonelikten çıkın",
        "unsubscribe_body": "Düğmeye bastığınızda size artık bülten gönderilmez.",
        "unsubscribe_button": "Abonelikten çık",
        "goodbye_title": "Abonelikten çıktınız",
        "goodbye_body": "Size artık bülten gönderilmeyecek. Yanlışlıkla olduysa tek tıkla "
        "geri dönebilirsiniz.",
        "resubscribe_button": "Yeniden abone ol",
        "unsubscribed_note": "Şu anda abone değilsiniz.",
        "welcome_back_title": "Yeniden hoş geldiniz",
        "welcome_back_body": "Aboneliğiniz yeniden başladı.",
        "invalid_title": "Bağlantı geçerli değil",
        "invalid_body": "Bu bağlantı geçersiz, süresi dolmuş ya da daha önce kullanılmış. "
        "Yeniden abone olmak için formu kullanabilirsiniz.",
        "subscribe_link": "Abonelik formu",
        "forbidden_title": "Form süresi doldu",
        "forbidden_body": "Güvenlik nedeniyle form kabul edilmedi. Sayfayı yenileyip tekrar "
        "deneyin (tarayıcınızın çerezleri kabul ettiğinden emin olun).",
        "too_many_title": "Çok fazla istek",
        "too_many_body": "Bu bağlantıdan çok sayıda istek geldi. Lütfen birkaç dakika sonra "
        "tekrar deneyin.",
        "bad_request_title": "İstek anlaşılamadı",
        "bad_request_body": "Bu istek işlenemedi. Lütfen sayfadaki düğmeyi kullanın.",
        "error_prefix": "Lütfen düzeltin:",
        "error_consent": "abone olmak için onay kutusunu işaretleyin",
        "error_category": "bilinmeyen bir kategori seçildi",
        "error_email": "geçerli bir e-posta adresi yazın",
        "error_choice": "geçersiz bir seçim gönderildi",
        "feeds": "Beslemeler",
        "home_title": "Bülten ve beslemeler",
        "home_intro": "Yeni makaleler e-posta bülteni olarak ya da besleme okuyucunuzda.",
        "home_subscribe": "Bültene abone olun",
        "home_archive": "Gönderilmiş bültenlerin arşivi",
        "home_feeds": "RSS, Atom ve JSON beslemeleri",
        "home_opml": "Tüm beslemeler tek dosyada (OPML)",
        "archive_title": "Bülten arşivi",
        "archive_intro": "Gönderilmiş bültenler, en yenisi başta.",
        "archive_empty": "Henüz gönderilmiş bülten yok.",
        "archive_back": "← Bülten arşivi",
        "archive_feeds": "Arşivi beslemeden izleyin",
        "already_confirmed_title": "Aboneliğiniz zaten onaylı",
        "already_confirmed_body": "Bu bağlantı daha önce kullanıldı; aboneliğiniz onaylı.",
    },
    "en": {
        "switch_label": "Language",
        "subscribe_title": "Subscribe to the newsletter",
        "subscribe_intro": "New articles in your inbox, in your language, as often as you like.",
        "email": "Your email address",
        "language": "Newsletter language",
        "cadence": "How often",
        "cadence_instant": "Instantly (breaking news)",
        "cadence_daily": "Daily",
        "cadence_weekly": "Weekly",
        "categories": "Categories",
        "categories_hint": "Choose none to get every category.",
        "format": "Format",
        "format_html": "HTML (with images)",
        "format_text": "Plain text",
        "consent": "I agree to receive the newsletter at this address; I can leave at any "
        "time with one click.",
        "honeypot": "Leave this field empty",
        "subscribe_button": "Subscribe",
        "check_title": "Check your inbox",
        "check_body": "We received a subscription request for this address. If a "
        "confirmation email was sent, it will arrive within a few minutes; open its link "
        "and confirm to start your subscription.",
        "confirm_title": "Confirm your subscription",
        "confirm_body": "Press the button to start your newsletter subscription.",
        "confirm_button": "Confirm",
        "confirmed_title": "Your subscription is confirmed",
        "confirmed_body": "Thank you! Digests will arrive at the cadence you chose.",
        "preferences_link": "Change your preferences",
        "preferences_title": "Newsletter preferences",
        "save_button": "Save",
        "saved": "Your preferences are saved.",
        "unsubscribe_from_here": "If you no longer want the newsletter:",
        "unsubscribe_title": "Unsubscribe",
        "unsubscribe_body": "Press the button and no more digests will be sent to you.",
        "unsubscribe_button": "Unsubscribe",
        "goodbye_title": "You are unsubscribed",
        "goodbye_body": "No more digests will be sent to you. If this was a mistake, you can "
        "come back with one click.",
        "resubscribe_button": "Subscribe again",
        "unsubscribed_note": "You are not subscribed at the moment.",
        "welcome_back_title": "Welcome back",
        "welcome_back_body": "Your subscription has started again.",
        "invalid_title": "This link is not valid",
        "invalid_body": "This link is invalid, has expired or was used already. You can "
        "subscribe again with the form.",
        "subscribe_link": "Subscription form",
        "forbidden_title": "The form has expired",
        "forbidden_body": "For your security the form was not accepted. Reload the page and "
        "try again (make sure your browser accepts cookies).",
        "too_many_title": "Too many requests",
        "too_many_body": "Too many requests came from your connection. Please try again in a "
        "few minutes.",
        "bad_request_title": "Request not understood",
        "bad_request_body": "This request could not be handled. Please use the button on the page.",
        "error_prefix": "Please correct:",
        "error_consent": "tick the box to agree to receive the newsletter",
        "error_category": "an unknown category was chosen",
        "error_email": "enter a valid email address",
        "error_choice": "an invalid choice was sent",
        "feeds": "Feeds",
        "home_title": "Newsletter and feeds",
        "home_intro": "New articles as an email newsletter, or in your feed reader.",
        "home_subscribe": "Subscribe to the newsletter",
        "home_archive": "Archive of the newsletters sent",
        "home_feeds": "RSS, Atom and JSON feeds",
        "home_opml": "Every feed in one file (OPML)",
        "archive_title": "Newsletter archive",
        "archive_intro": "The newsletters sent, newest first.",
        "archive_empty": "No newsletter has been sent yet.",
        "archive_back": "← Newsletter archive",
        "archive_feeds": "Follow the archive in a feed reader",
        "already_confirmed_title": "Your subscription is already confirmed",
        "already_confirmed_body": "This link was used already; your subscription is confirmed.",
    },
}


def choose_language(request: Request, default: str, preferred: str | None = None) -> str:
    asked = request.query_params.get("lang", "")
    if asked in LANGUAGES:
        return asked
    if preferred in LANGUAGES:
        return str(preferred)
    return accepted_language(request.headers.get("accept-language", ""), default)


def accepted_language(header: str, default: str) -> str:
    """The best of our languages in an Accept-Language header ("tr-TR,en;q=0.8")."""
    best, best_q = default, 0.0
    for item in header[:500].split(","):
        tag, _, params = item.strip().partition(";")
        base = tag.strip().lower().split("-")[0]
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if base in LANGUAGES and q > best_q:
            best, best_q = base, q
    return best
