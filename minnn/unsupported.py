"""The Keras names minnn does not have, and what to do instead.

``import minnn as keras`` runs a Keras beginner's first programs. When a program
reaches for something minnn leaves out (``keras.layers.Conv2D``,
``keras.callbacks.ReduceLROnPlateau``, ``keras.ops``), it gets a
``NotInMinnError`` that names the feature, says why it is missing and what minnn
has instead, not a bare "module has no attribute". The error is both a
``NotImplementedError`` and an ``AttributeError``, so ``hasattr`` and
``getattr(module, name, default)`` keep working as for any missing attribute. (The
price: ``from minnn.layers import Conv2D`` gets Python's own "cannot import name
'Conv2D' from 'minnn.layers'", since the import statement turns any AttributeError
into that ImportError.)

Each minnn module that mirrors a Keras module ends with
``__getattr__ = unsupported.module_getattr(__name__)``.
"""

_CONV = ("convolutions and pooling are not in minnn (its layers are dense); for images, "
         "put Flatten() before Dense layers, or move the model to Keras with "
         "minnn.interop.to_keras(model)")
_RNN = "recurrent layers are not in minnn; move the model to Keras for sequences"
_NORM = "normalization layers are not in minnn"
_PREP = ("preprocessing layers are not in minnn: prepare the arrays with NumPy before fit "
         "(for example x = x.astype('float32') / 255)")
_MERGE = "of the merging layers, minnn has Add and Concatenate (and layers.add, layers.concatenate)"
_NO_AUTODIFF = ("minnn has no autodiff, so an arbitrary function cannot be a layer: subclass "
                "minnn.layers.Layer and write its forward and backward")
_SHAPE = "reshaping layers other than Flatten are not in minnn"
_NOISE = "of the regularisation layers, minnn has only Dropout"
_ATTENTION = "embeddings and attention are not in minnn"


def _names(text):
    return text.split()


_LAYERS = {}
for _group, _why in (
    ("Conv1D Conv2D Conv3D Conv1DTranspose Conv2DTranspose Conv3DTranspose Convolution1D "
     "Convolution2D Convolution3D Convolution1DTranspose Convolution2DTranspose "
     "Convolution3DTranspose SeparableConv1D SeparableConv2D SeparableConvolution1D "
     "SeparableConvolution2D DepthwiseConv1D DepthwiseConv2D MaxPooling1D MaxPooling2D "
     "MaxPooling3D MaxPool1D MaxPool2D MaxPool3D AveragePooling1D AveragePooling2D "
     "AveragePooling3D AvgPool1D AvgPool2D AvgPool3D GlobalAveragePooling1D "
     "GlobalAveragePooling2D GlobalAveragePooling3D GlobalAvgPool1D GlobalAvgPool2D "
     "GlobalAvgPool3D GlobalMaxPooling1D GlobalMaxPooling2D GlobalMaxPooling3D GlobalMaxPool1D "
     "GlobalMaxPool2D GlobalMaxPool3D UpSampling1D UpSampling2D UpSampling3D ZeroPadding1D "
     "ZeroPadding2D ZeroPadding3D Cropping1D Cropping2D Cropping3D", _CONV),
    ("LSTM GRU SimpleRNN RNN LSTMCell GRUCell SimpleRNNCell StackedRNNCells Bidirectional "
     "ConvLSTM1D ConvLSTM2D ConvLSTM3D TimeDistributed", _RNN),
    ("BatchNormalization LayerNormalization GroupNormalization UnitNormalization "
     "SpectralNormalization RMSNormalization", _NORM),
    ("Normalization Rescaling Resizing CenterCrop RandomFlip RandomRotation RandomZoom "
     "RandomTranslation RandomContrast RandomBrightness RandomCrop TextVectorization "
     "StringLookup IntegerLookup CategoryEncoding Hashing Discretization HashedCrossing", _PREP),
    ("Multiply multiply Subtract subtract Average average Maximum "
     "maximum Minimum minimum Dot dot", _MERGE),
    ("Lambda", _NO_AUTODIFF),
    ("Reshape Permute RepeatVector", _SHAPE),
    ("GaussianNoise GaussianDropout AlphaDropout SpatialDropout1D SpatialDropout2D "
     "SpatialDropout3D ActivityRegularization", _NOISE),
    ("Embedding Attention AdditiveAttention MultiHeadAttention GroupQueryAttention", _ATTENTION),
    ("PReLU", "of the activation layers, minnn has Activation, ReLU, LeakyReLU, ELU and Softmax"),
):
    _LAYERS.update(dict.fromkeys(_names(_group), _why))

_CALLBACKS = dict.fromkeys(
    _names("ReduceLROnPlateau LearningRateScheduler TensorBoard CSVLogger BackupAndRestore "
           "RemoteMonitor SwapEMAWeights"),
    "minnn's callbacks are EarlyStopping, ModelCheckpoint, TerminateOnNaN, LambdaCallback "
    "and your own keras.callbacks.Callback subclasses")

_OPTIMIZERS = dict.fromkeys(
    _names("Adagrad Adadelta Adamax Nadam AdamW Ftrl Lion Lamb Adafactor Muon "
           "LossScaleOptimizer schedules"),
    "minnn's optimizers are SGD (with momentum and nesterov), Adam and RMSprop, with a fixed "
    "learning rate")

_LOSSES = dict.fromkeys(
    _names("Huber huber KLDivergence kl_divergence KLD kld Poisson poisson Hinge hinge "
           "SquaredHinge squared_hinge CategoricalHinge categorical_hinge CosineSimilarity "
           "cosine_similarity LogCosh log_cosh MeanAbsolutePercentageError "
           "mean_absolute_percentage_error MeanSquaredLogarithmicError "
           "mean_squared_logarithmic_error CategoricalFocalCrossentropy "
           "BinaryFocalCrossentropy Dice Tversky CTC ctc"),
    "minnn's losses are mean squared and mean absolute error and the binary, categorical "
    "and sparse categorical crossentropies; for another, subclass minnn.losses.Loss with "
    "forward and backward")

_METRICS = dict.fromkeys(
    _names("AUC Precision Recall F1Score FBetaScore TopKCategoricalAccuracy "
           "SparseTopKCategoricalAccuracy TruePositives TrueNegatives FalsePositives "
           "FalseNegatives PrecisionAtRecall RecallAtPrecision SensitivityAtSpecificity "
           "SpecificityAtSensitivity MeanIoU IoU BinaryIoU OneHotIoU OneHotMeanIoU R2Score "
           "Accuracy Sum MeanSquaredLogarithmicError MeanAbsolutePercentageError "
           "CosineSimilarity LogCoshError Hinge SquaredHinge CategoricalHinge KLDivergence "
           "Poisson BinaryCrossentropy CategoricalCrossentropy SparseCategoricalCrossentropy"),
    "minnn's metrics are accuracy (BinaryAccuracy, CategoricalAccuracy, "
    "SparseCategoricalAccuracy), MeanAbsoluteError, MeanSquaredError, RootMeanSquaredError "
    "and Mean")

_DATASETS = dict.fromkeys(
    _names("cifar10 cifar100 fashion_mnist imdb reuters boston_housing california_housing"),
    "minnn bundles MNIST only (minnn.datasets.mnist.load_data()); load other data "
    "as NumPy arrays yourself")

_UTILS = dict.fromkeys(
    _names("plot_model model_to_dot image_dataset_from_directory text_dataset_from_directory "
           "audio_dataset_from_directory timeseries_dataset_from_array pad_sequences get_file "
           "normalize split_dataset Sequence PyDataset array_to_img img_to_array load_img "
           "save_img Progbar register_keras_serializable get_custom_objects "
           "custom_object_scope serialize_keras_object deserialize_keras_object FeatureSpace "
           "pack_x_y_sample_weight unpack_x_y_sample_weight"),
    "minnn.utils has set_random_seed and to_categorical; data goes into fit as NumPy arrays")

_TOP = {name: f"minnn has no keras.{name} module" for name in _names(
    "ops backend applications preprocessing regularizers constraints mixed_precision random "
    "distribution export quantizers tree visualization dtype_policies")}
_TOP["ops"] = ("minnn has no keras.ops: it has no autodiff, so there are no symbolic "
               "operations to compose; compute on NumPy arrays, and write a Layer subclass "
               "with forward and backward for a new operation")
_TOP["backend"] = ("minnn has no keras.backend: it computes in NumPy only; "
                   "minnn.config has floatx, set_floatx and epsilon")
_TOP["regularizers"] = ("minnn has no weight regularizers (kernel_regularizer, L1, L2): "
                        "its losses are the compiled loss alone")

_CATALOGUE = {
    "minnn": _TOP, "minnn.layers": _LAYERS, "minnn.callbacks": _CALLBACKS,
    "minnn.optimizers": _OPTIMIZERS, "minnn.losses": _LOSSES, "minnn.metrics": _METRICS,
    "minnn.datasets": _DATASETS, "minnn.utils": _UTILS,
}


class NotInMinnError(NotImplementedError, AttributeError):
    """A Keras name that minnn does not have (see the message for what it has instead)."""


def explain(module_name, name):
    """The sentence for ``module_name.name`` when Keras has it and minnn does not, else None."""
    why = _CATALOGUE.get(module_name, {}).get(name)
    if why is None:
        return None
    keras_name = module_name.replace("minnn", "keras", 1)
    return (f"{keras_name}.{name} is not supported by minnn: {why}. "
            "The README's section 'Where minnn differs from Keras' lists what minnn leaves out.")


def module_getattr(module_name):
    """A module ``__getattr__`` that explains the Keras names minnn lacks; any other
    missing name is Python's usual AttributeError."""
    def __getattr__(name):
        message = explain(module_name, name)
        if message is not None:
            raise NotInMinnError(message)
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
    return __getattr__
